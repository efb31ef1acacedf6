// Cancelling a key switch inside one data class returns that class to its earlier key and leaves
// every other class's key alone (it used to retire every connected primary of the tenant); the
// vendor's fleet view lists a tenant with several classes once, by its default class's key.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";

const SLUG = "cls-cancel";
let h: Harness;
let token: string;
const records: Array<{ ciphertext: string; dataClass: string | undefined }> = [];

beforeAll(async () => {
  // A slow job over several pii DEKs, so the switch is still running when it is cancelled.
  h = await startHarness({ BROKER_REWRAP_TENANT_RATE: "1", BROKER_REWRAP_BATCH_SIZE: "1", BROKER_REWRAP_SWEEP_MS: "100" });
  const { keyArn } = await h.aws.createKeyForVendor();
  token = await h.api.readyTenant(SLUG, "aws", keyArn);
  expect((await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name: "pii" })).status).toBe(201);
  const piiKey = await h.gcp.createKeyForVendor();
  expect((await h.api.admin("PUT", `/api/v1/tenants/${SLUG}/classes/pii/key`, { provider: "gcp", keyId: piiKey })).status).toBe(200);
  for (const dataClass of [undefined, "pii", "pii", "pii", "pii", "pii"]) {
    const r = await h.api.call("POST", `/api/v1/tenants/${SLUG}/encrypt`, { token, body: { plaintext: Buffer.from("x").toString("base64"), ...(dataClass ? { dataClass } : {}) } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    records.push({ ciphertext: r.body.ciphertext, dataClass });
    // Retire the DEK just used, so the next encryption of the class makes a new one.
    const tenantId = (await h.runtime.ctx.registry.getBySlug(SLUG))!.id;
    await h.runtime.ctx.db.query(`UPDATE data_key SET retired_at = now() WHERE tenant_id = $1 AND retired_at IS NULL`, [tenantId]);
    h.runtime.ctx.keys.forgetTenant(tenantId);
  }
}, 60_000);

afterAll(async () => {
  await h?.close();
});

const keysOf = async (slug: string) =>
  (
    await h.runtime.db.query<{ id: string; data_class_id: string | null; status: string; provider: string }>(
      `SELECT k.id, k.data_class_id, k.status, k.provider::text AS provider FROM key_connection k JOIN tenant t ON t.id = k.tenant_id WHERE t.slug = $1 AND k.role = 'primary' ORDER BY k.created_at`,
      [slug],
    )
  );

test("cancelling a switch of pii's key returns pii to its earlier key; default's key stays connected; every record decrypts", async () => {
  const before = await keysOf(SLUG);
  const defaultKey = before.find((k) => k.data_class_id === null)!;
  const earlierPii = before.find((k) => k.data_class_id !== null)!;
  const next = await h.gcp.createKeyForVendor();
  expect((await h.api.admin("PUT", `/api/v1/tenants/${SLUG}/classes/pii/key`, { provider: "gcp", keyId: next })).status).toBe(200);
  await waitFor(async () => (await h.api.admin("GET", `/api/v1/tenants/${SLUG}/lifecycle`)).body.job?.state === "running", { what: "the pii switch job to run" });
  const cancel = await h.api.admin("POST", `/api/v1/tenants/${SLUG}/lifecycle/cancel`);
  expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);

  const after = await keysOf(SLUG);
  expect(after.find((k) => k.id === defaultKey.id)?.status, "default's key").toBe("connected");
  expect(after.find((k) => k.id === earlierPii.id)?.status, "pii's earlier key").toBe("connected");
  expect(after.filter((k) => k.status === "connected")).toHaveLength(2);
  for (const r of records) expect((await h.api.decrypt(SLUG, token, r.ciphertext)).status).toBe(200);
  const enc = await h.api.call("POST", `/api/v1/tenants/${SLUG}/encrypt`, { token, body: { plaintext: Buffer.from("y").toString("base64") } });
  expect(enc.status).toBe(200);
}, 60_000);

test("the fleet lists a tenant with several classes once, with its default class's key", async () => {
  const r = await h.api.admin("GET", `/api/v1/fleet?q=${SLUG}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const rows = (r.body.tenants as Array<{ slug: string; provider: string | null }>).filter((t) => t.slug === SLUG);
  expect(rows).toHaveLength(1);
  expect(rows[0]!.provider).toBe("aws");
});
