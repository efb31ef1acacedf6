// Issue 10 #12: one caller must not be able to slow every tenant. Bodies are read only after
// authentication, contexts are counted before they are validated, error bodies are bounded, and
// a tenant's data requests in flight on an instance are limited.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { sendPartial, within } from "./raw-http";

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness();
  token = await h.api.readyTenant("costly", "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  await h?.close();
});

const enc = "/api/v1/tenants/costly/encrypt";

describe("bounded validation", () => {
  test("a context of 100,000 keys is refused with 400 naming the 64-entry limit, in a small body", async () => {
    const context = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 1]));
    const started = performance.now();
    const r = await h.api.call("POST", enc, { token, body: { plaintext: "aGVsbG8=", context } });
    const ms = performance.now() - started;
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(r.body.error.message).toContain("at most 64 entries");
    expect(r.body.error.issues).toHaveLength(1);
    expect(JSON.stringify(r.body).length).toBeLessThan(2_000);
    // Generous for a shared machine; validating every entry first took far longer and answered megabytes.
    expect(ms).toBeLessThan(1_500);
  });

  test("an invalid request of about 0.9 MB gets an error body of a few kilobytes listing at most 10 issues", async () => {
    // 64 entries (within the limit) whose long keys are fine and whose values are numbers: 64 issues.
    const context = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`${"k".repeat(250)}${i}`, i]));
    // And thousands of unknown fields with long names, which zod lists in one message.
    const body: Record<string, unknown> = { plaintext: "aGVsbG8=", context };
    for (let i = 0; i < 3_500; i++) body[`unknown_field_${"x".repeat(240)}_${i}`] = i;
    const raw = JSON.stringify(body);
    expect(raw.length).toBeGreaterThan(900_000);
    const r = await h.api.call("POST", enc, { token, rawBody: raw });
    expect(r.status).toBe(400);
    expect(r.body.error.issues.length).toBeLessThanOrEqual(10);
    expect(r.body.error.issueCount).toBeGreaterThan(10);
    expect(JSON.stringify(r.body).length).toBeLessThan(8_000);
  });
});

describe("authentication before the body", () => {
  test("an unauthenticated 1 MB body of invalid JSON gets 401, not a parse error", async () => {
    const r = await h.api.call("POST", enc, { rawBody: "{" + "x".repeat(1024 * 1024) });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("unauthenticated");
  });

  test("an unauthenticated request declaring 1 MB is answered 401 before its body has been sent", async () => {
    const partial = sendPartial(h.runtime.url, "POST", enc, {}, 1024 * 1024, '{"plaintext":"');
    try {
      const r = await within(partial.response, 5_000, "unauthenticated partial body");
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error.code).toBe("unauthenticated");
    } finally {
      partial.abort();
    }
  });

  test("a wrong token with a partial body is also refused before the body arrives", async () => {
    const partial = sendPartial(h.runtime.url, "POST", enc, { authorization: `Bearer cmk_${"Z".repeat(43)}` }, 1024 * 1024, "{");
    try {
      expect((await within(partial.response, 5_000, "bad token partial body")).status).toBe(401);
    } finally {
      partial.abort();
    }
  });

  test("key-ref/validate requires credentials before reading the body and never echoes megabytes", async () => {
    const huge = JSON.stringify({ provider: "aws", keyId: "a".repeat(4000), ["x".repeat(900_000)]: 1 });
    const anon = await h.api.call("POST", "/api/v1/key-ref/validate", { rawBody: huge });
    expect(anon.status).toBe(401);
    expect(JSON.stringify(anon.body).length).toBeLessThan(1_000);
    const asAdmin = await h.api.call("POST", "/api/v1/key-ref/validate", { token: ADMIN_TOKEN, rawBody: huge });
    expect(asAdmin.status).toBe(400);
    expect(JSON.stringify(asAdmin.body).length).toBeLessThan(4_000);
    const ok = await h.api.call("POST", "/api/v1/key-ref/validate", { token: ADMIN_TOKEN, body: { provider: "aws", keyId: "not an arn" } });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(false);
  });
});

describe("per-tenant concurrency", () => {
  test("data requests beyond BROKER_TENANT_MAX_INFLIGHT get 429 with Retry-After; other tenants are unaffected", async () => {
    const rt = await h.startInstance({ BROKER_TENANT_MAX_INFLIGHT: "2" });
    const api = new ApiClient(rt.url);
    const other = await h.api.readyTenant("bystander", "aws", (await h.aws.createKeyForVendor()).keyArn);
    // Two requests of the tenant whose bodies are still arriving: admitted, so in flight.
    const held = [0, 1].map(() => sendPartial(rt.url, "POST", enc, { authorization: `Bearer ${token}` }, 1000, '{"plaintext":"'));
    try {
      let refused: Awaited<ReturnType<typeof api.encrypt>> | undefined;
      // Admission of the held requests is asynchronous: poll until the limit is reached.
      for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
        const r = await api.encrypt("costly", token, "one too many");
        if (r.status === 429) {
          refused = r;
          break;
        }
        expect(r.status).toBe(200);
      }
      expect(refused?.body.error.code).toBe("too_many_requests");
      expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await api.encrypt("bystander", other, "another tenant")).status).toBe(200);
    } finally {
      for (const p of held) p.abort();
    }
    // The aborted requests release their slots.
    let status = 0;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && status !== 200; ) status = (await api.encrypt("costly", token, "after")).status;
    expect(status).toBe(200);
    await rt.close();
  });
});
