// The client package as services get it: its generated types match lib/contracts (regenerate with
// `npx tsx scripts/generate-client-types.ts`), and `npm run build -w @cmek-broker/client` gives a
// package that plain Node imports by name through the workspace link.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { GENERATED_FILE, renderClientTypes } from "@/scripts/generate-client-types";

const root = path.resolve(import.meta.dirname, "../..");

test("packages/client/src/generated/api.ts is what the generator makes of lib/contracts today", () => {
  expect(readFileSync(GENERATED_FILE, "utf8"), "stale: run npx tsx scripts/generate-client-types.ts").toBe(renderClientTypes());
});

test("the package builds with tsc and imports by its name in plain Node", () => {
  const build = spawnSync("npm", ["run", "build", "-w", "@cmek-broker/client"], { cwd: root, encoding: "utf8" });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  const probe = `import("@cmek-broker/client").then((m) => { const c = new m.BrokerClient({ baseUrl: "http://127.0.0.1:1", tenant: "acme", token: "t" }); console.log(JSON.stringify({ client: typeof c.encrypt, locked: new m.TenantLockedError({ status: 423, body: { code: "tenant_locked", message: "m", reason: "r", since: "2026-01-01T00:00:00.000Z" } }).since.toISOString(), codes: m.ERROR_CODES.length })); return c.close(); })`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: root, encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  const out = JSON.parse(run.stdout);
  expect(out).toEqual({ client: "function", locked: "2026-01-01T00:00:00.000Z", codes: expect.any(Number) });
  expect(out.codes).toBeGreaterThan(10);
});
