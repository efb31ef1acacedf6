// Issue 10 #10: a NUL character (or an unpaired surrogate) in any request string is a 400, never a
// 500; and a lock is acknowledged only once it is durable: a lock whose database write fails
// leaves no lock in this instance's memory.
import { requireTenant } from "@/lib/broker/tenant-lookup";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import pg from "pg";
import type { Json } from "@/testkit/api-client";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;
const slug = "nul-inputs";
const NUL = "\u0000";

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  token = await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  await h?.close();
});

function expect400(r: { status: number; body: Json }, what: string) {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(400);
  expect(r.body.error.code).toBe("invalid_request");
}

describe("NUL in request strings -> 400 invalid_request", () => {
  test.each([
    ["tenant name", "POST", "/api/v1/tenants", { slug: "nul-name", name: `evil${NUL}name` }],
    ["token name", "POST", `/api/v1/tenants/${slug}/tokens`, { name: `svc${NUL}` }],
    ["lock reason", "POST", `/api/v1/tenants/${slug}/lock`, { reason: `incident${NUL}42` }],
    ["key id", "PUT", `/api/v1/tenants/${slug}/key`, { provider: "aws", keyId: `arn:aws:kms:us-east-1:1:key/${NUL}` }],
    ["webhook url", "POST", `/api/v1/tenants/${slug}/webhooks`, { url: `https://hooks.example/${NUL}` }],
    ["key-ref check", "POST", "/api/v1/key-ref/validate", { provider: "aws", keyId: `x${NUL}` }],
  ])("%s in the body", async (what, method, path, body) => {
    expect400(await h.api.admin(method, path, body), what);
  });

  test.each([
    ["encryption context key", { plaintext: "aGVsbG8=", context: { [`k${NUL}`]: "v" } }],
    ["encryption context value", { plaintext: "aGVsbG8=", context: { k: `v${NUL}` } }],
    ["purpose", { plaintext: "aGVsbG8=", purpose: `p${NUL}` }],
  ])("%s on the data path", async (what, body) => {
    expect400(await h.api.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body }), what);
  });

  test.each(["actor", "purpose", "requestId", "keyRef", "action", "outcome", "cursor"])("audit filter %s in the query", async (field) => {
    expect400(await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?${field}=a%00b`), field);
    expect400(await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/export?${field === "cursor" ? "actor" : field}=a%00b`), `${field} (export)`);
  });

  test("fleet search q", async () => {
    expect400(await h.api.admin("GET", "/api/v1/fleet?q=acme%00"), "q");
  });

  test("a NUL in a path parameter", async () => {
    expect400(await h.api.admin("GET", "/api/v1/tenants/nul%00inputs"), "slug");
  });

  test("unpaired surrogates are refused like NUL", async () => {
    // Sent as JSON escapes; the parsed strings hold the lone surrogates.
    expect400(await h.api.call("POST", `/api/v1/tenants/${slug}/tokens`, { token: ADMIN_TOKEN, rawBody: '{"name":"svc\\ud800"}' }), "lone high surrogate");
    expect400(await h.api.call("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, rawBody: '{"slug":"surrogate","name":"a\\udc00b"}' }), "lone low surrogate");
    // A well-formed pair (an emoji) is text and is accepted.
    expect((await h.api.admin("POST", `/api/v1/tenants/${slug}/tokens`, { name: "svc \u{1F511}" })).status).toBe(201);
  });

  test("after a lock with a NUL reason was refused, the tenant is not locked anywhere", async () => {
    expect400(await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: `x${NUL}` }), "lock reason");
    expect((await h.api.encrypt(slug, token, "still served")).status).toBe(200);
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/status`)).body.state).toBe("active");
  });
});

describe("a lock is durable before it takes effect", () => {
  test("a lock whose database write fails leaves no memory-only lock; the next lock works", async () => {
    const db = new pg.Client({ connectionString: h.database.url });
    await db.connect();
    // A real database failure of the lock's UPDATE, for this one reason.
    await db.query(`CREATE FUNCTION refuse_test_lock() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.lock_reason LIKE '%refuse-this-lock%' THEN RAISE EXCEPTION 'injected lock write failure'; END IF; RETURN NEW; END $$`);
    await db.query(`CREATE TRIGGER refuse_test_lock BEFORE UPDATE ON tenant FOR EACH ROW EXECUTE FUNCTION refuse_test_lock()`);
    try {
      const enc = await h.api.encrypt(slug, token, "before the failed lock");
      expect(enc.status).toBe(200);
      const failed = await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: "refuse-this-lock" });
      expect(failed.status).toBeGreaterThanOrEqual(500);
      // Nothing was acknowledged, so nothing is enforced: this instance still serves the tenant.
      expect((await h.api.encrypt(slug, token, "after the failed lock")).status).toBe(200);
      expect((await h.api.decrypt(slug, token, enc.body.ciphertext)).status).toBe(200);
      expect(h.runtime.ctx.registry.cached((await requireTenant(h.runtime.ctx, slug)).id)?.state).toBe("active");
      expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/status`)).body.state).toBe("active");
    } finally {
      await db.query(`DROP TRIGGER refuse_test_lock ON tenant`);
      await db.query(`DROP FUNCTION refuse_test_lock()`);
      await db.end();
    }
    const locked = await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: "a real one" });
    expect(locked.status).toBe(200);
    expect((await h.api.encrypt(slug, token, "refused")).status).toBe(423);
  });
});
