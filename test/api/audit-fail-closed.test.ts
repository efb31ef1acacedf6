// No unaudited key use: when the audit store cannot take the entry, the data path answers 503
// and returns no plaintext, even for a DEK already in memory.
import { afterAll, beforeAll, expect, test } from "vitest";
import pg from "pg";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
});
afterAll(async () => {
  await h?.close();
});

test("audit store down: decrypt of a cached DEK is 503 audit_unavailable, and recovers afterwards", async () => {
  const token = await h.api.readyTenant("closed", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const enc = await h.api.encrypt("closed", token, "do not leak");
  expect((await h.api.decrypt("closed", token, enc.body.ciphertext)).status).toBe(200);

  // The broker's role is a superuser here, so connection limits and grants would not stop it;
  // taking the audit table away makes every audit insert fail, like a broken audit store.
  const admin = new pg.Client({ connectionString: h.database.url });
  await admin.connect();
  await admin.query(`ALTER TABLE audit_event RENAME TO audit_event_away`);

  const refused = await h.api.decrypt("closed", token, enc.body.ciphertext);
  expect(refused.status).toBe(503);
  expect(refused.body.error.code).toBe("audit_unavailable");
  expect(refused.body.plaintext).toBeUndefined();
  expect(JSON.stringify(refused.body)).not.toContain(Buffer.from("do not leak").toString("base64"));
  expect(refused.headers.get("retry-after")).toBeTruthy();

  await admin.query(`ALTER TABLE audit_event_away RENAME TO audit_event`);
  await admin.end();
  let ok = 0;
  for (let i = 0; i < 50 && ok === 0; i++) {
    if ((await h.api.decrypt("closed", token, enc.body.ciphertext)).status === 200) ok++;
    else await new Promise((r) => setTimeout(r, 200));
  }
  expect(ok).toBe(1);
  const verify = await h.api.admin("GET", "/api/v1/tenants/closed/audit/verify");
  expect(verify.body.ok).toBe(true);
});
