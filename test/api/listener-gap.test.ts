// An instance that may have missed a lock notification (its LISTEN connection dropped) must
// not serve the tenant from memory: it reads the state fresh until it listens again. The same
// holds for service tokens: a revocation made during the gap is honoured at once.
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
  await waitFor(() => !other.ctx.bus.connected, { what: "instance B to notice its listener connection was cut" });
  expect(other.ctx.bus.connected).toBe(false);
  await other.ctx.db.query(
    `UPDATE tenant SET state = 'locked', state_version = state_version + 1, state_since = now(), lock_reason = 'kill_switch: elsewhere', lock_source = 'kill_switch' WHERE slug = 'gap'`,
  );

  const r = await b.decrypt("gap", token, enc.body.ciphertext);
  expect(r.status).toBe(423);
  expect(r.body.error.code).toBe("tenant_locked");

  // Once listening again it keeps enforcing the lock it re-read.
  for (let i = 0; i < 50 && !other.ctx.bus.connected; i++) await new Promise((res) => setTimeout(res, 100));
  expect(other.ctx.bus.connected).toBe(true);
  expect((await b.decrypt("gap", token, enc.body.ciphertext)).status).toBe(423);
});

test("a token revoked while an instance's listener is down is refused by that instance at once and after it reconnects", async () => {
  await h.api.readyTenant("gap-token", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const created = await h.api.admin("POST", "/api/v1/tenants/gap-token/tokens", { name: "revoked-in-gap" });
  expect(created.status).toBe(201);
  const token: string = created.body.token;
  const other = await h.startInstance();
  const b = new ApiClient(other.url);
  // B now holds the token in its cache.
  expect((await b.encrypt("gap-token", token, "cached token")).status).toBe(200);

  const admin = new pg.Client({ connectionString: h.database.url });
  await admin.connect();
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cmek-broker-listener'`);
  await admin.end();
  for (let i = 0; i < 100 && other.ctx.bus.connected; i++) await new Promise((r) => setTimeout(r, 5));
  // Revoked by another instance whose notification B cannot hear: written straight to the
  // database, so no notification reaches B whenever it reconnects (the missed-notification case).
  await other.ctx.db.query(`UPDATE service_token SET revoked_at = now() WHERE id = $1`, [created.body.id]);

  const during = await b.encrypt("gap-token", token, "must be refused");
  expect(during.status).toBe(401);

  for (let i = 0; i < 50 && !other.ctx.bus.connected; i++) await new Promise((res) => setTimeout(res, 100));
  expect(other.ctx.bus.connected).toBe(true);
  const after = await b.encrypt("gap-token", token, "still refused");
  expect(after.status).toBe(401);
  expect(after.body.error.code).toBe("unauthenticated");
});
