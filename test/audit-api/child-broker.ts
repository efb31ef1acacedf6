// The broker as a real child process (`tsx server.ts`), for tests that must kill it with
// SIGKILL or measure it without the test runner sharing its event loop. tsx runs the server
// in a grandchild node process, so the child is started in its own process group and killed
// as a group: `kill -9 -<pgid>` takes down the process that actually serves requests.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions } from "@/emulators/tenant-actions";
import { ADMIN_TOKEN, ApiClient } from "../support/broker-harness";
import { createTestDatabase, type TestDatabase } from "@/testkit/postgres";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ChildBroker {
  proc: ChildProcess;
  url: string;
  api: ApiClient;
  output(): string;
  /** SIGKILL to the whole process group; resolves once the child is gone. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnBroker(env: Record<string, string>, readyTimeoutMs = 90_000): Promise<ChildBroker> {
  const port = await freePort();
  const proc = spawn("node_modules/.bin/tsx", ["server.ts"], {
    cwd: process.cwd(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", BROKER_CONSOLE: "off", NODE_ENV: "test", BROKER_LOG_LEVEL: "warn", ...env, PORT: String(port) },
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  proc.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`broker exited during start-up:\n${out}`);
    const ok = await fetch(`${url}/api/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      killGroup("SIGKILL");
      throw new Error(`broker not ready after ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    proc,
    url,
    api: new ApiClient(url),
    output: () => out,
    async kill9() {
      killGroup("SIGKILL");
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      killGroup("SIGTERM");
      const t = setTimeout(() => killGroup("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Emulators and a fresh database in the test process; the env a child broker needs to use them. */
export interface ChildEnv {
  emulators: EmulatorSet;
  database: TestDatabase;
  aws: AwsTenantActions;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function childEnv(extra: Record<string, string> = {}): Promise<ChildEnv> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-child-"));
  const emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  const database = await createTestDatabase();
  const aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  return {
    emulators,
    database,
    aws,
    env: { DATA_DIR: dataDir, DATABASE_URL: database.url, BROKER_ADMIN_TOKEN: ADMIN_TOKEN, BROKER_KMS_TIMEOUT_MS: "2000", ...emulators.brokerEnv, ...extra },
    async close() {
      aws.close();
      await emulators.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
