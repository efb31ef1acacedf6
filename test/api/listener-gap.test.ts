// An instance that may have missed a lock notification (its LISTEN connection dropped) must
// not serve the tenant from memory: it reads the state fresh until it listens again.
import { afterAll, beforeAll, expect, test } from "vitest";
import pg from "pg";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
});
afterAll(async () => {
  await h?.close();
});

test("a lock made while an instance's listener is down is enforced by that instance at once", async () => {
  const token = await h.api.readyTenant("gap", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const other = await h.startInstance();
  const b = new ApiClient(other.url);
  const enc = await b.encrypt("gap", token, "cached on B");
  expect((await b.decrypt("gap", token, enc.body.ciphertext)).status).toBe(200);

  // Cut every broker listener connection on the server, then lock through instance A while B's is down.
  const admin = new pg.Client({ connectionString: h.database.url });
  await admin.connect();
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cmek-broker-listener'`);
  await admin.end();
  await waitFor(() => !other.broker.bus.connected, { what: "instance B to notice its listener connection was cut" });
  expect(other.broker.bus.connected).toBe(false);
  await other.broker.db.query(
    `UPDATE tenant SET state = 'locked', state_version = state_version + 1, state_since = now(), lock_reason = 'kill_switch: elsewhere', lock_source = 'kill_switch' WHERE slug = 'gap'`,
  );

  const r = await b.decrypt("gap", token, enc.body.ciphertext);
  expect(r.status).toBe(423);
  expect(r.body.error.code).toBe("tenant_locked");

  // Once listening again it keeps enforcing the lock it re-read.
  for (let i = 0; i < 50 && !other.broker.bus.connected; i++) await new Promise((res) => setTimeout(res, 100));
  expect(other.broker.bus.connected).toBe(true);
  expect((await b.decrypt("gap", token, enc.body.ciphertext)).status).toBe(423);
});
