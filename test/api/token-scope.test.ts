// Least-privilege service tokens (issue 12) through the real broker over HTTP, on real PostgreSQL
// and the AWS KMS emulator: creation validates the scope and the list shows it; a token outside
// its operations gets 403 scope_denied (single requests, batches, streams), each refusal audited
// as the request's own entry; a data-class-limited token cannot touch another class.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { streamCall } from "../support/stream-http";

let h: Harness;
const slug = "scoped";
const base = `/api/v1/tenants/${slug}`;
/** Unrestricted: makes the ciphertexts the scoped tokens are refused. */
let full: string;
let decryptOnly: string;
let encryptOnly: string;

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function createToken(body: Record<string, unknown>) {
  return h.api.admin("POST", `${base}/tokens`, body);
}

async function tokenOf(body: Record<string, unknown>): Promise<string> {
  const r = await createToken(body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.token as string;
}

type Entry = { action: string; outcome: string; reason: string | null; detail: Record<string, unknown> | null };

/** The audit entries of one request (by its x-request-id). */
async function auditOf(requestId: string | null): Promise<Entry[]> {
  const r = await h.api.admin("GET", `${base}/audit?requestId=${requestId}&limit=1000`);
  expect(r.status).toBe(200);
  return r.body.events as Entry[];
}

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  const keyArn = (await h.aws.createKeyForVendor()).keyArn;
  full = await h.api.readyTenant(slug, "aws", keyArn);
  decryptOnly = await tokenOf({ name: "reader", operations: ["decrypt"] });
  encryptOnly = await tokenOf({ name: "writer", operations: ["encrypt"] });
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe("creating and listing scoped tokens", () => {
  test("the scope defaults to both operations and every class; the list shows each token's scope", async () => {
    const created = await createToken({ name: "everything" });
    expect(created.status).toBe(201);
    expect(created.body.scope).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: null });
    // Both operations named is the same as none: unrestricted.
    const both = await createToken({ name: "both", operations: ["decrypt", "encrypt"], dataClasses: ["default"] });
    expect(both.body.scope).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: ["default"] });

    const list = await h.api.admin("GET", `${base}/tokens`);
    expect(list.status).toBe(200);
    const byName = new Map((list.body.tokens as Array<{ name: string; scope: unknown }>).map((t) => [t.name, t.scope]));
    expect(byName.get("reader")).toEqual({ operations: ["decrypt"], dataClasses: null });
    expect(byName.get("writer")).toEqual({ operations: ["encrypt"], dataClasses: null });
    expect(byName.get("everything")).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: null });
    expect(byName.get("both")).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: ["default"] });

    const entry = (await h.api.admin("GET", `${base}/audit?action=token.create&limit=10`)).body.events as Entry[];
    expect(entry.find((e) => e.detail?.name === "reader")?.detail).toMatchObject({ operations: ["decrypt"], dataClasses: null });
  });

  test.each([
    [{ name: "x", operations: [] }, "operations"],
    [{ name: "x", operations: ["sign"] }, "operations"],
    [{ name: "x", operations: ["encrypt", "encrypt"] }, "operations"],
    [{ name: "x", dataClasses: [] }, "dataClasses"],
    [{ name: "x", dataClasses: ["PII"] }, "dataClasses"],
    [{ name: "x", dataClasses: ["pii", "pii"] }, "dataClasses"],
    [{ name: "x", dataClasses: "pii" }, "dataClasses"],
    [{ name: "x", scope: {} }, "scope"],
  ])("invalid scope input %j is 400 invalid_request", async (body, field) => {
    const r = await createToken(body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(r.body.error.message).toContain(field);
  });

  test("a class the tenant does not have is 400 naming it, and no token is made", async () => {
    const before = (await h.api.admin("GET", `${base}/tokens`)).body.tokens.length as number;
    const r = await createToken({ name: "typo", dataClasses: ["default", "biling"] });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid_request", dataClass: "biling" });
    expect(r.body.error.message).toContain("'biling'");
    expect((await h.api.admin("GET", `${base}/tokens`)).body.tokens.length).toBe(before);
  });
});

describe("operations", () => {
  test("a decrypt-only token cannot encrypt: 403 scope_denied, audited; it can decrypt", async () => {
    const denied = await h.api.encrypt(slug, decryptOnly, "hello");
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "scope_denied", operation: "encrypt" });
    expect(await auditOf(denied.headers.get("x-request-id"))).toEqual([expect.objectContaining({ action: "encrypt", outcome: "denied", reason: "scope_denied" })]);

    const ct = (await h.api.encrypt(slug, full, "hello")).body.ciphertext as string;
    const ok = await h.api.decrypt(slug, decryptOnly, ct);
    expect(ok.status).toBe(200);
    expect(Buffer.from(ok.body.plaintext as string, "base64").toString()).toBe("hello");
  });

  test("an encrypt-only token cannot decrypt, not even its own ciphertext: no DEK is unwrapped for it", async () => {
    const sealed = await h.api.encrypt(slug, encryptOnly, "mine");
    expect(sealed.status).toBe(200);
    const denied = await h.api.decrypt(slug, encryptOnly, sealed.body.ciphertext as string);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "scope_denied", operation: "decrypt" });
    const entries = await auditOf(denied.headers.get("x-request-id"));
    expect(entries).toEqual([expect.objectContaining({ action: "decrypt", outcome: "denied", reason: "scope_denied" })]);
  });

  test("batches: a token outside the batch's operation is refused whole, one audited entry per item", async () => {
    const r = await h.api.call("POST", `${base}/encrypt/batch`, { token: decryptOnly, body: { items: [{ plaintext: b64("a") }, { plaintext: b64("b") }] }, headers: { "x-request-id": "scope-batch-op" } });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: "scope_denied", operation: "encrypt" });
    const entries = (await auditOf("scope-batch-op")).sort((a, b) => Number(a.detail?.batchIndex) - Number(b.detail?.batchIndex));
    expect(entries.map((e) => [e.action, e.outcome, e.reason, e.detail?.batchIndex])).toEqual([
      ["encrypt", "denied", "scope_denied", 0],
      ["encrypt", "denied", "scope_denied", 1],
    ]);
  });

  test("streams: a decrypt-only token cannot encrypt a stream", async () => {
    const r = await streamCall(h.runtime.url, `${base}/encrypt/stream`, { token: decryptOnly, input: Buffer.from("streamed"), requestId: "scope-stream-op" });
    expect(r.status).toBe(403);
    expect(r.json?.error.code).toBe("scope_denied");
    expect(await auditOf("scope-stream-op")).toEqual([expect.objectContaining({ action: "encrypt", outcome: "denied", reason: "scope_denied" })]);
  });
});
