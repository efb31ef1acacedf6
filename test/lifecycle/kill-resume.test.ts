// kill -9 of the instance working a re-wrap job, mid-way: another instance takes the job over
// once the lease lapses and finishes it; every DEK stays readable, none is lost, none is
// re-wrapped twice. Two real broker processes (server.ts) on one PostgreSQL database.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ApiClient } from "@/testkit/api-client";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import { awsKeyWithReEncrypt, decryptAll, lifecycle, recordsOnDistinctDeks, type Record_ } from "./helpers";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SLUG = "kill-resume";
const DEKS = 10;

interface Child {
  id: string;
  proc: ChildProcess;
  api: ApiClient;
  log: string[];
}

let h: Harness;
let sql: pg.Client;
const children: Child[] = [];
let token: string;
let records: Record_[];
let oldKey: string;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function launch(id: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  // The server itself, not tsx's wrapper: SIGKILL must reach the process that works the job.
  const proc = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), BROKER_INSTANCE_ID: id, BROKER_CONSOLE: "off", BROKER_EMULATORS: "off", BROKER_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child: Child = { id, proc, api: new ApiClient(`http://127.0.0.1:${port}`), log: [] };
  const keep = (b: Buffer) => void (child.log.push(b.toString()), child.log.length > 100 && child.log.shift());
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  children.push(child);
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`instance ${id} exited:\n${child.log.join("")}`);
      return (await fetch(`${child.api.baseUrl}/api/health`)).status === 200;
    },
    { what: `instance ${id} to be healthy`, timeoutMs: 90_000, intervalMs: 100 },
  );
  return child;
}

async function stop(c: Child, signal: NodeJS.Signals): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.proc.once("exit", () => r()));
  c.proc.kill(signal);
  await exited;
}

beforeAll(async () => {
  h = await startHarness();
  oldKey = await awsKeyWithReEncrypt(h.aws);
  token = await h.api.readyTenant(SLUG, "aws", oldKey);
  records = await recordsOnDistinctDeks(h.api, h.runtime, SLUG, token, DEKS);
  // The in-process instance made the DEKs; it must not take part in the job.
  await h.runtime.close();
  sql = new pg.Client({ connectionString: h.database.url });
  await sql.connect();
  // Slow enough to kill mid-way (6 KMS calls/s: about 2 DEKs per second), a short lease to take over quickly.
  const env = { ...h.env, BROKER_REWRAP_SWEEP_MS: "100", BROKER_REWRAP_LEASE_MS: "1500", BROKER_REWRAP_TENANT_RATE: "6", BROKER_REWRAP_BATCH_SIZE: "1", BROKER_DEK_CACHE_TTL_MS: "300" };
  await Promise.all([launch("rewrap-1", env), launch("rewrap-2", env)]);
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stop(c, "SIGTERM")));
  await sql?.end();
  await h?.close();
});

test("kill -9 of the instance running the job: the other finishes it; every DEK readable, none lost or wrapped twice", async () => {
  const [first] = children;
  expect((await first!.api.connect(SLUG, "aws", await awsKeyWithReEncrypt(h.aws))).status).toBe(200);
  const holder = await waitFor(
    async () => {
      const r = await sql.query<{ leased_by: string | null; done: number }>(`SELECT leased_by, done FROM rewrap_job WHERE state = 'running'`);
      const row = r.rows[0];
      return row && row.leased_by && row.done >= 3 && row.done < DEKS ? row.leased_by : null;
    },
    { what: "the job to be a few DEKs in, under a lease", timeoutMs: 60_000, intervalMs: 50 },
  );
  const victim = children.find((c) => c.id === holder)!;
  const survivor = children.find((c) => c.id !== holder)!;
  await stop(victim, "SIGKILL");

  const done = await waitFor(
    async () => {
      const l = await lifecycle(survivor.api, SLUG);
      return l.job?.state === "completed" ? l : null;
    },
    { what: "the survivor to finish the job", timeoutMs: 60_000, intervalMs: 100 },
  );
  expect(done.job).toMatchObject({ rewrapped: DEKS, failed: 0, total: DEKS });
  expect(done.totalDeks).toBe(DEKS);
  expect(done.keys[0]).toMatchObject({ status: "connected", deks: DEKS });
  expect(done.keys[1]).toMatchObject({ keyRef: oldKey, status: "replaced", deks: 0 });
  const metrics = await (await fetch(`${survivor.api.baseUrl}/api/metrics`)).text();
  expect(metrics).toMatch(/cmek_rewrap_deks_total\{outcome="rewrapped",method="reencrypt"\} [1-9]/);

  // No DEK was swapped twice: the batches' counts never exceed the number of DEKs. The victim may
  // have died between committing its last swap (a batch of one DEK here) and recording that
  // batch's summary entry, so one batch entry may be missing; the job's own count above is exact.
  const audit = await survivor.api.admin("GET", `/api/v1/tenants/${SLUG}/audit?limit=500`);
  const batches = (audit.body.events as Array<{ action: string; detail: { rewrapped: number } }>).filter((e) => e.action === "rewrap.batch");
  const audited = batches.reduce((n, b) => n + b.detail.rewrapped, 0);
  expect(audited).toBeLessThanOrEqual(DEKS);
  expect(audited).toBeGreaterThanOrEqual(DEKS - 1);

  await h.aws.disable(oldKey);
  await waitFor(async () => (await decryptAll([survivor.api], SLUG, token, records)).every((s) => s === 200), { what: "every record to decrypt with the old key disabled", timeoutMs: 10_000 });
  expect((await survivor.api.admin("GET", `/api/v1/tenants/${SLUG}`)).body.tenant.state).toBe("active");
}, 180_000);
