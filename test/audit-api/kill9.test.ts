// `kill -9` of the broker in the middle of a load of decrypts: every request that was
// acknowledged (HTTP 200 received) has its durable decrypt entry afterwards, because the
// broker answers only once the group commit holding that entry has COMMITted. Requests cut
// off by the kill may or may not have an entry (allowed: they were never acknowledged).
// After the restart the chain still verifies and keeps growing from where it stopped.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ADMIN_TOKEN } from "../support/broker-harness";
import { childEnv, spawnBroker, type ChildBroker, type ChildEnv } from "./child-broker";

let ce: ChildEnv;
let broker: ChildBroker | undefined;

const IN_FLIGHT = 32;
const LOAD_MS = 2000;

beforeAll(async () => {
  // The prober would add kms.probe entries; irrelevant here but kept out of the counts.
  ce = await childEnv({ BROKER_PROBE_INTERVAL_MS: "3600000" });
}, 120_000);
afterAll(async () => {
  await broker?.stop().catch(() => {});
  await ce?.close();
});

test("every acknowledged decrypt has its audit entry after kill -9; the chain verifies after restart", async () => {
  broker = await spawnBroker(ce.env);
  const slug = "kill9";
  const { keyArn } = await ce.aws.createKeyForVendor();
  const token = await broker.api.readyTenant(slug, "aws", keyArn);
  const tenantId = (await broker.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.id as string;
  // A few ciphertexts under the tenant's DEK; decrypts are then mostly cache hits (the fast path).
  const cts: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await broker.api.encrypt(slug, token, Buffer.alloc(256, i));
    expect(r.status).toBe(200);
    cts.push(r.body.ciphertext);
  }

  const acked: string[] = [];
  let sent = 0;
  let failed = 0;
  let stop = false;
  const url = `${broker.url}/api/v1/tenants/${slug}/decrypt`;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const rid = `k9-${w}-${i}-${randomUUID().slice(0, 8)}`;
      sent++;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": rid },
          body: JSON.stringify({ ciphertext: cts[i % cts.length] }),
        });
        const body = await res.text();
        if (res.status === 200 && body.includes("plaintext")) acked.push(rid);
        else failed++;
      } catch {
        // Connection reset by the kill: never acknowledged.
        failed++;
        return;
      }
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, LOAD_MS));
  const killedAt = Date.now();
  await broker.kill9();
  stop = true;
  await Promise.all(workers);
  const ackedBeforeKill = acked.length;

  // What is durable, read straight from the database while no broker runs.
  const db = new pg.Client({ connectionString: ce.database.url });
  await db.connect();
  let durable: Set<string>;
  let durableDecrypts: number;
  try {
    const rows = await db.query<{ request_id: string }>(
      `SELECT request_id FROM audit_event WHERE tenant_id = $1 AND action = 'decrypt' AND outcome = 'success' AND request_id LIKE 'k9-%'`,
      [tenantId],
    );
    durable = new Set(rows.rows.map((r) => r.request_id));
    durableDecrypts = rows.rows.length;
  } finally {
    await db.end();
  }
  const missing = acked.filter((rid) => !durable.has(rid));
  console.log(
    `kill -9 after ${LOAD_MS} ms with ${IN_FLIGHT} in flight: sent ${sent}, acknowledged ${ackedBeforeKill}, cut off ${failed}, ` +
      `durable decrypt entries ${durableDecrypts} (${durableDecrypts - ackedBeforeKill} durable but never acknowledged), acknowledged without entry ${missing.length}`,
  );
  // Enough load that commits were in flight at the kill (the 2 shared cores can be very busy).
  expect(ackedBeforeKill).toBeGreaterThan(50);
  expect(missing).toEqual([]);
  expect(Date.now() - killedAt).toBeLessThan(30_000);

  // Restart on the same database: the chain verifies and continues.
  broker = await spawnBroker(ce.env);
  const after = await broker.api.decrypt(slug, token, cts[0]!);
  expect(after.status).toBe(200);
  const v = await broker.api.call("GET", `/api/v1/tenants/${slug}/audit/verify`, { token: ADMIN_TOKEN });
  expect(v.status).toBe(200);
  expect(v.body.ok, JSON.stringify(v.body)).toBe(true);
  expect(v.body.count).toBeGreaterThanOrEqual(durableDecrypts + 1);
  console.log(`after restart: chain of ${v.body.count} entries verifies`);
}, 180_000);
