// Bad input gets the documented 4xx code and a JSON error, never a 500 or a stack trace.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, ADMIN_TOKEN, type ApiResponse, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness();
  token = await h.api.readyTenant("inputs", "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  await h?.close();
});

const enc = "/api/v1/tenants/inputs/encrypt";
const dec = "/api/v1/tenants/inputs/decrypt";

function expectError(r: ApiResponse, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(typeof r.body.error.message).toBe("string");
  expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/);
}

describe("data path input", () => {
  test.each([
    ["malformed JSON", { rawBody: "{not json" }, 400, "invalid_request"],
    ["empty body", { rawBody: "" }, 400, "invalid_request"],
    ["JSON array", { body: [1, 2] }, 400, "invalid_request"],
    ["missing plaintext", { body: {} }, 400, "invalid_request"],
    ["plaintext of the wrong type", { body: { plaintext: 42 } }, 400, "invalid_request"],
    ["bad base64", { body: { plaintext: "not base64!!" } }, 400, "invalid_request"],
    ["unpadded base64", { body: { plaintext: "aGVsbG8" } }, 400, "invalid_request"],
    ["context with a non-string value", { body: { plaintext: "aGVsbG8=", context: { a: 1 } } }, 400, "invalid_request"],
    ["unknown field", { body: { plaintext: "aGVsbG8=", plaintxt: "x" } }, 400, "invalid_request"],
    ["purpose too long", { body: { plaintext: "aGVsbG8=", purpose: "x".repeat(201) } }, 400, "invalid_request"],
  ])("%s -> %i %s", async (_name, opts, status, code) => {
    expectError(await h.api.call("POST", enc, { token, ...(opts as object) }), status, code);
  });

  test("plaintext over 1 MiB -> 413 payload_too_large", async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 1).toString("base64");
    expectError(await h.api.call("POST", enc, { token, body: { plaintext: big } }), 413, "payload_too_large");
  });

  test("a body far over the limit -> 413 without buffering it all", async () => {
    const huge = JSON.stringify({ plaintext: "A".repeat(3 * 1024 * 1024) });
    expectError(await h.api.call("POST", enc, { token, rawBody: huge }), 413, "payload_too_large");
  });

  test("exactly 1 MiB is accepted and round-trips", async () => {
    const mib = Buffer.alloc(1024 * 1024, 7);
    const r = await h.api.encrypt("inputs", token, mib);
    expect(r.status).toBe(200);
    const d = await h.api.decrypt("inputs", token, r.body.ciphertext);
    expect(Buffer.from(d.body.plaintext, "base64").equals(mib)).toBe(true);
  });

  test("garbage ciphertext -> 422 invalid_ciphertext", async () => {
    expectError(await h.api.call("POST", dec, { token, body: { ciphertext: Buffer.from("garbage").toString("base64") } }), 422, "invalid_ciphertext");
    expectError(await h.api.call("POST", dec, { token, body: { ciphertext: "" } }), 422, "invalid_ciphertext");
  });

  test("wrong content type -> 415", async () => {
    const r = await h.api.call("POST", enc, { token, rawBody: "plaintext=aGVsbG8=", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe("invalid_request");
  });
});

describe("authentication and routing", () => {
  test("missing, malformed and unknown tokens -> 401", async () => {
    expectError(await h.api.call("POST", enc, { body: { plaintext: "aGVsbG8=" } }), 401, "unauthenticated");
    expectError(await h.api.call("POST", enc, { body: { plaintext: "aGVsbG8=" }, headers: { authorization: "Basic abc" } }), 401, "unauthenticated");
    expectError(await h.api.call("POST", enc, { token: "cmk_" + "x".repeat(43), body: { plaintext: "aGVsbG8=" } }), 401, "unauthenticated");
  });

  test("unknown tenant -> 404 tenant_not_found", async () => {
    expectError(await h.api.call("POST", "/api/v1/tenants/nobody/encrypt", { token, body: { plaintext: "aGVsbG8=" } }), 404, "tenant_not_found");
    expectError(await h.api.admin("GET", "/api/v1/tenants/nobody"), 404, "tenant_not_found");
  });

  test("invalid slug -> 400; unknown route -> 404 JSON", async () => {
    expectError(await h.api.admin("GET", "/api/v1/tenants/BAD_SLUG"), 400, "invalid_request");
    expectError(await h.api.admin("GET", "/api/v1/nothing-here"), 404, "not_found");
  });

  test("a service token cannot administer; the admin token cannot encrypt", async () => {
    expectError(await h.api.call("POST", "/api/v1/tenants", { token, body: { slug: "x", name: "x" } }), 403, "forbidden");
    expectError(await h.api.call("POST", "/api/v1/tenants/inputs/lock", { token, body: { reason: "x" } }), 403, "forbidden");
    expectError(await h.api.call("POST", enc, { token: ADMIN_TOKEN, body: { plaintext: "aGVsbG8=" } }), 403, "forbidden");
  });

  test("a revoked token stops working at once", async () => {
    const created = await h.api.admin("POST", "/api/v1/tenants/inputs/tokens", { name: "short-lived" });
    expect((await h.api.encrypt("inputs", created.body.token, "x")).status).toBe(200);
    expect((await h.api.admin("DELETE", `/api/v1/tenants/inputs/tokens/${created.body.id}`)).status).toBe(204);
    expectError(await h.api.encrypt("inputs", created.body.token, "x"), 401, "unauthenticated");
    const list = await h.api.admin("GET", "/api/v1/tenants/inputs/tokens");
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
  });

  test("duplicate tenant -> 409; request ids are echoed", async () => {
    expectError(await h.api.admin("POST", "/api/v1/tenants", { slug: "inputs", name: "again" }), 409, "conflict");
    const r = await h.api.call("GET", "/api/health", { headers: { "x-request-id": "req-123" } });
    expect(r.headers.get("x-request-id")).toBe("req-123");
  });

  test("health, metrics and the OpenAPI document", async () => {
    const health = await h.api.call("GET", "/api/health");
    expect(health.body).toMatchObject({ status: "ok", database: "ok" });
    const metrics = await h.api.call("GET", "/api/metrics");
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain("cmek_kms_calls_total");
    const doc = await h.api.call("GET", "/api/v1/openapi.json");
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/api/v1/tenants/{slug}/encrypt", "/api/v1/tenants/{slug}/decrypt", "/api/v1/tenants"]));
    expect(doc.body.paths["/api/v1/tenants/{slug}/encrypt"].post.requestBody).toBeDefined();
  });
});
