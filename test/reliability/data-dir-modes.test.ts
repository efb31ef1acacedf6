// DATA_DIR holds the embedded database (webhook secrets, password hashes, the audit log), the
// emulators' CA key and generated secrets: after a start, no other OS user may read or write any
// of it. PGlite itself creates its files 0666, so this checks what the broker makes of them.
import { lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ADMIN_TOKEN } from "../support/broker-harness";

let emulators: EmulatorSet | undefined;
let runtime: BrokerRuntime | undefined;
const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-modes-"));

afterAll(async () => {
  await runtime?.close({ drainMs: 0 });
  await emulators?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function modes(root: string): Array<{ path: string; kind: "dir" | "file"; mode: number }> {
  const out: Array<{ path: string; kind: "dir" | "file"; mode: number }> = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      out.push({ path: path.relative(root, p) || ".", kind: "dir", mode: st.mode & 0o777 });
      for (const n of readdirSync(p)) walk(path.join(p, n));
    } else if (st.isFile()) out.push({ path: path.relative(root, p), kind: "file", mode: st.mode & 0o777 });
  };
  walk(root);
  return out;
}

test("after a start on embedded PGlite, every directory under DATA_DIR is 0700 and every file 0600", async () => {
  // The emulators keep their CA key in the same directory, as `npm start` does.
  emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  const config = loadConfig({ NODE_ENV: "test", PORT: "0", DATA_DIR: dataDir, BROKER_ADMIN_TOKEN: ADMIN_TOKEN, BROKER_LOG_LEVEL: "silent", BROKER_DEMO: "off", ...emulators.brokerEnv });
  runtime = await startBrokerRuntime({ config });
  expect(runtime.db.kind).toBe("pglite");
  const all = modes(dataDir);
  const files = all.filter((e) => e.kind === "file");
  expect(files.length).toBeGreaterThan(100); // the database cluster really is there
  expect(files.some((f) => f.path.includes("azure-emulator-ca-key"))).toBe(true);
  const open = all.filter((e) => e.mode !== (e.kind === "dir" ? 0o700 : 0o600)).map((e) => `${e.mode.toString(8)} ${e.path}`);
  expect(open.slice(0, 10), `${open.length} entries with other modes`).toEqual([]);
}, 120_000);
