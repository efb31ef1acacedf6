// The fault suite: two real broker processes (server.ts) on a PostgreSQL cluster of this test's
// own, under steady encrypt/decrypt load on both, while the test restarts PostgreSQL, stops it
// for PG_FAULT_STOP_S seconds (8 here to keep CI time low; the benchmark-length run sets 30), and
// kill -9s one instance. What must hold:
// - no instance exits (a pg client losing its server used to emit an unhandled 'error' event);
// - no response is a 500; every refusal is a 503 carrying Retry-After;
// - every acknowledged (200) request has its audit entry afterwards;
// - 200s come back soon after PostgreSQL accepts connections again (measured and printed; the
//   asserted bound is a generous correctness bound, see RECOVERY_BOUND_MS);
// - the audit writer and the webhook dispatcher work again (they hold reserved connections);
// - lock fan-out and token revocation still reach the other instance;
// - kill -9 of one instance: clients of the other see no error at all.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions } from "@/emulators/tenant-actions";
import { ADMIN_TOKEN } from "../support/broker-harness";
import { spawnBroker, type ChildBroker } from "../audit-api/child-broker";
import { startPgCluster, type PgCluster } from "./pg-cluster";

const STOP_SECONDS = Number(process.env.PG_FAULT_STOP_S ?? 8);
const WORKERS_PER_INSTANCE = 3;
/**
 * The promise is "200s again within 1 s of PostgreSQL accepting connections"; the measured value
 * is printed. On this shared 2-core machine (PostgreSQL, two brokers, emulators and the load
 * generator on the same cores) scheduling alone can add seconds, so the asserted bound is a
 * correctness bound: the instance recovers by itself, without a restart or a manual step.
 */
const RECOVERY_BOUND_MS = Number(process.env.PG_FAULT_RECOVERY_BOUND_MS ?? 5000);
const SLUG = "faults";

interface Sample {
  inst: number;
  rid: string;
  start: number;
  end: number;
  status: number;
  retryAfter: string | null;
  code: string | null;
}

let cluster: PgCluster;
let emulators: EmulatorSet;
let aws: AwsTenantActions;
let dataDir: string;
let receiver: Server;
const hooks: string[] = [];
const brokers: ChildBroker[] = [];
let token: string;
let ciphertext: string;
let tenantId: string;
let lastAcceptingAt = 0;
const samples: Sample[] = [];

beforeAll(async () => {
  cluster = await startPgCluster();
  const databaseUrl = await cluster.createDatabase("cmek_faults");
  dataDir = mkdtempSync(path.join(tmpdir(), "cmek-faults-"));
  emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      hooks.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const env = {
    ...emulators.brokerEnv,
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
    BROKER_KMS_TIMEOUT_MS: "2000",
    BROKER_PROBE_INTERVAL_MS: "600000",
    BROKER_WEBHOOK_ALLOW_PRIVATE: "on",
  };
  // The first instance migrates the fresh database; the second starts on the migrated one.
  brokers.push(await spawnBroker({ ...env, BROKER_INSTANCE_ID: "faults-1" }));
  brokers.push(await spawnBroker({ ...env, BROKER_INSTANCE_ID: "faults-2" }));
  const { keyArn } = await aws.createKeyForVendor();
  token = await brokers[0]!.api.readyTenant(SLUG, "aws", keyArn);
  tenantId = (await brokers[0]!.api.admin("GET", `/api/v1/tenants/${SLUG}`)).body.tenant.id;
  const enc = await brokers[0]!.api.encrypt(SLUG, token, "fault data");
  expect(enc.status).toBe(200);
  ciphertext = enc.body.ciphertext;
  const hook = await brokers[0]!.api.admin("POST", `/api/v1/tenants/${SLUG}/webhooks`, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
  expect(hook.status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const b of brokers) await b.stop().catch(() => undefined); // a broker that already exited has nothing to stop
  aws?.close();
  await emulators?.close();
  await new Promise((r) => receiver?.close(r));
  cluster?.destroy();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

/** Steady load on the given instances until stop(): each worker alternates encrypt and decrypt. */
function startLoad(instances: number[]) {
  let running = true;
  const worker = async (inst: number, w: number) => {
    const b = brokers[inst]!;
    for (let i = 0; running; i++) {
      const rid = `flt-${inst}-${w}-${i}-${randomUUID().slice(0, 8)}`;
      const encrypt = i % 2 === 0;
      const start = Date.now();
      let status = 0;
      let retryAfter: string | null = null;
      let code: string | null = null;
      try {
        const res = await fetch(`${b.url}/api/v1/tenants/${SLUG}/${encrypt ? "encrypt" : "decrypt"}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": rid },
          body: JSON.stringify(encrypt ? { plaintext: Buffer.from(`p${i}`).toString("base64") } : { ciphertext }),
        });
        status = res.status;
        retryAfter = res.headers.get("retry-after");
        const text = await res.text();
        if (status !== 200) code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
      } catch (e) {
        code = `network: ${(e as Error).message}`;
      }
      samples.push({ inst, rid, start, end: Date.now(), status, retryAfter, code });
      // Refusals come back in microseconds during an outage: pace them so the load stays a load, not a spin.
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const all = instances.flatMap((inst) => Array.from({ length: WORKERS_PER_INSTANCE }, (_, w) => worker(inst, w)));
  return async () => {
    running = false;
    await Promise.all(all);
  };
}

/** Waits (polling) until every instance answered 200 to a request sent after `since`; the largest completion delay per instance. */
async function recoveryAfter(since: number, timeoutMs = 30_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const firsts = brokers.map((_, inst) => samples.find((s) => s.inst === inst && s.start >= since && s.status === 200)?.end);
    if (firsts.every((t) => t !== undefined)) return firsts.map((t) => t! - since);
    if (Date.now() > deadline) throw new Error(`no 200 from every instance within ${timeoutMs} ms of PostgreSQL accepting connections`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function window(from: number, to: number): Sample[] {
  return samples.filter((s) => s.start >= from && s.start <= to);
}

function summarize(label: string, list: Sample[]): void {
  const by = new Map<string, number>();
  for (const s of list) by.set(`${s.status}${s.code ? ` ${s.code}` : ""}`, (by.get(`${s.status}${s.code ? ` ${s.code}` : ""}`) ?? 0) + 1);
  console.log(`${label}: ${list.length} requests: ${[...by].map(([k, v]) => `${k} x${v}`).join(", ")}`);
}

function expectOnlySuccessesAndProperRefusals(list: Sample[]): void {
  const bad = list.filter((s) => s.status !== 200 && !(s.status === 503 && s.retryAfter !== null && /^\d+$/.test(s.retryAfter)));
  expect(bad.slice(0, 5), `${bad.length} responses neither 200 nor 503 with Retry-After`).toEqual([]);
}

function expectAlive(): void {
  for (const b of brokers) expect(b.proc.exitCode, `instance exited:\n${b.output()}`).toBeNull();
}

describe("two broker instances on a PostgreSQL that restarts, stops and loses an instance", () => {
  test("PostgreSQL restart under load: no instance exits, no 500, refusals are 503 with Retry-After, 200s again soon after", async () => {
    const stopLoad = startLoad([0, 1]);
    await new Promise((r) => setTimeout(r, 1500)); // steady load before the fault (a duration of load, not a wait for a condition)
    const faultAt = Date.now();
    cluster.restart();
    const acceptingAt = await cluster.waitAccepting();
    const recovery = await recoveryAfter(acceptingAt);
    await stopLoad();
    const during = window(faultAt, Date.now());
    summarize(`restart (accepting again ${acceptingAt - faultAt} ms after the restart began)`, during);
    console.log(`restart: 200 again ${recovery.join(" ms / ")} ms after PostgreSQL accepted connections (instance 1 / 2)`);
    expectAlive();
    expectOnlySuccessesAndProperRefusals(during);
    expect(Math.max(...recovery)).toBeLessThan(RECOVERY_BOUND_MS);
  }, 60_000);

  test(`PostgreSQL stopped for ${STOP_SECONDS} s under load: only 503 database/audit refusals with Retry-After, then 200s again`, async () => {
    const stopLoad = startLoad([0, 1]);
    await new Promise((r) => setTimeout(r, 1000)); // load before the fault
    const faultAt = Date.now();
    cluster.stop();
    await new Promise((r) => setTimeout(r, STOP_SECONDS * 1000)); // the outage's length is the scenario itself
    cluster.start();
    const acceptingAt = await cluster.waitAccepting();
    lastAcceptingAt = acceptingAt;
    const recovery = await recoveryAfter(acceptingAt);
    await stopLoad();
    const outage = window(faultAt, acceptingAt);
    summarize(`${STOP_SECONDS} s stop`, outage);
    console.log(`stop: 200 again ${recovery.join(" ms / ")} ms after PostgreSQL accepted connections (instance 1 / 2)`);
    expectAlive();
    expectOnlySuccessesAndProperRefusals(window(faultAt, Date.now()));
    // The outage was really seen (not served from memory throughout) and answered as such.
    expect(outage.filter((s) => s.status === 503).length).toBeGreaterThan(0);
    expect(Math.max(...recovery)).toBeLessThan(RECOVERY_BOUND_MS);
  }, 90_000);

  test("after the faults: every acknowledged request has its audit entry, the webhook dispatcher delivers, failures were counted", async () => {
    const acked = samples.filter((s) => s.status === 200).map((s) => s.rid);
    expect(acked.length).toBeGreaterThan(50);
    const c = new pg.Client({ connectionString: cluster.url("cmek_faults") });
    await c.connect();
    let durable: Set<string>;
    try {
      const rows = await c.query<{ request_id: string }>(`SELECT request_id FROM audit_event WHERE tenant_id = $1 AND outcome = 'success' AND request_id LIKE 'flt-%'`, [tenantId]);
      durable = new Set(rows.rows.map((r) => r.request_id));
    } finally {
      await c.end();
    }
    const missing = acked.filter((rid) => !durable.has(rid));
    console.log(`audit: ${acked.length} acknowledged, ${missing.length} without an entry`);
    expect(missing).toEqual([]);

    // A request made now reaches the webhook receiver: the dispatcher re-took its subscription on a new connection.
    const rid = `flt-hook-${randomUUID()}`;
    const r = await brokers[1]!.api.call("POST", `/api/v1/tenants/${SLUG}/decrypt`, { token, body: { ciphertext }, headers: { "x-request-id": rid } });
    expect(r.status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (!hooks.some((h) => h.includes(rid))) {
      if (Date.now() > deadline) throw new Error(`webhook for ${rid} not delivered after the faults`);
      await new Promise((res) => setTimeout(res, 50));
    }

    // The connection failures were logged and counted, not swallowed.
    const metrics = await brokers[0]!.api.call("GET", "/api/metrics");
    expect(String(metrics.body)).toMatch(/cmek_background_errors_total\{task="db\.[a-z]+"\} [1-9]/);
  }, 60_000);

  test("after the faults: a lock on one instance reaches the other, and a revoked token is refused on the other", async () => {
    const [one, two] = brokers as [ChildBroker, ChildBroker];
    // Both instances listen again (cluster bus and webhook changes: 2 listener connections each).
    // A revocation made while an instance's listener is still down is the listener-gap case, tested elsewhere.
    const since = lastAcceptingAt;
    const c = new pg.Client({ connectionString: cluster.url("cmek_faults") });
    await c.connect();
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const rows = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'cmek-broker-listener'`);
        if (rows.rows[0].n >= 4) break;
        if (Date.now() > deadline) throw new Error(`listeners not back: ${rows.rows[0].n} of 4`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await c.end();
    }
    console.log(`listeners of both instances back ${Date.now() - since} ms after PostgreSQL accepted connections (upper bound: measured now)`);
    const lock = await one.api.admin("POST", `/api/v1/tenants/${SLUG}/lock`, { reason: "after faults" });
    expect(lock.status).toBe(200);
    const until = async (what: string, want: number, call: () => Promise<{ status: number; body: unknown }>) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const r = await call();
        if (r.status === want) return;
        if (Date.now() > deadline) throw new Error(`${what} not seen within 5 s: last answer ${r.status} ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    await until("lock on instance 2", 423, () => two.api.decrypt(SLUG, token, ciphertext));
    expect((await one.api.admin("POST", `/api/v1/tenants/${SLUG}/unlock`)).status).toBe(200);
    await until("unlock on instance 2", 200, () => two.api.decrypt(SLUG, token, ciphertext));

    const extra = await one.api.admin("POST", `/api/v1/tenants/${SLUG}/tokens`, { name: "to-revoke" });
    expect(extra.status).toBe(201);
    expect((await two.api.decrypt(SLUG, extra.body.token, ciphertext)).status).toBe(200);
    expect((await one.api.admin("DELETE", `/api/v1/tenants/${SLUG}/tokens/${extra.body.id}`)).status).toBe(204);
    await until("revocation on instance 2", 401, () => two.api.decrypt(SLUG, extra.body.token, ciphertext));
  }, 30_000);

  test("kill -9 of one instance: the other instance's clients see no error", async () => {
    const from = Date.now();
    const stopLoad = startLoad([0]);
    await new Promise((r) => setTimeout(r, 1000)); // load before the kill
    await brokers[1]!.kill9();
    await new Promise((r) => setTimeout(r, 2000)); // load after the kill: what the survivor's clients see
    await stopLoad();
    const seen = window(from, Date.now()).filter((s) => s.inst === 0);
    summarize("kill -9 of instance 2, load on instance 1", seen);
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((s) => s.status !== 200).slice(0, 5)).toEqual([]);
    expect(brokers[0]!.proc.exitCode).toBeNull();
  }, 30_000);
});
