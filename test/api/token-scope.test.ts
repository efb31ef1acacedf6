// Least-privilege service tokens (issue 12) through the real broker over HTTP, on real PostgreSQL
// and the AWS KMS emulator: creation validates the scope and the list shows it; a token outside
// its operations gets 403 scope_denied (single requests, batches, streams), each refusal audited
// as the request's own entry; a data-class-limited token cannot touch another class.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { uuidToBytes } from "@/lib/crypto/envelope";
import { startHarness, type Harness } from "../support/broker-harness";
import { addClass } from "../support/data-classes";
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

describe("data classes", () => {
  const cslug = "scoped-classes";
  const cbase = `/api/v1/tenants/${cslug}`;
  let owner: string;
  let billing: string;
  let classIds: Record<string, string>;

  const enc = (token: string, text: string, dataClass?: string, requestId?: string) =>
    h.api.call("POST", `${cbase}/encrypt`, { token, body: { plaintext: b64(text), dataClass }, headers: requestId ? { "x-request-id": requestId } : {} });
  const dec = (token: string, ciphertext: string, requestId: string) => h.api.call("POST", `${cbase}/decrypt`, { token, body: { ciphertext }, headers: { "x-request-id": requestId } });
  const entriesOf = async (requestId: string) => ((await h.api.admin("GET", `${cbase}/audit?requestId=${requestId}&limit=1000`)).body.events as Entry[]);

  beforeAll(async () => {
    owner = await h.api.readyTenant(cslug, "aws", (await h.aws.createKeyForVendor()).keyArn);
    classIds = {
      pii: await addClass(h, cslug, "pii", "aws", (await h.aws.createKeyForVendor()).keyArn),
      billing: await addClass(h, cslug, "billing", "aws", (await h.aws.createKeyForVendor()).keyArn),
    };
    const r = await h.api.admin("POST", `${cbase}/tokens`, { name: "billing-svc", dataClasses: ["billing"] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.scope).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: ["billing"] });
    billing = r.body.token as string;
  }, 120_000);

  test("a billing token cannot encrypt pii, nor default: 403 scope_denied naming the class, audited; billing passes", async () => {
    const pii = await enc(billing, "ssn", "pii", "cls-scope-enc-pii");
    expect(pii.status).toBe(403);
    expect(pii.body.error).toMatchObject({ code: "scope_denied", dataClass: "pii", operation: "encrypt" });
    expect(await entriesOf("cls-scope-enc-pii")).toEqual([expect.objectContaining({ action: "encrypt", outcome: "denied", reason: "scope_denied", detail: { dataClass: "pii" } })]);

    const def = await enc(billing, "plain", undefined, "cls-scope-enc-default");
    expect(def.status).toBe(403);
    expect(def.body.error).toMatchObject({ code: "scope_denied", dataClass: "default", operation: "encrypt" });
    // Entries of `default` name no class, as before classes.
    expect(await entriesOf("cls-scope-enc-default")).toEqual([expect.objectContaining({ outcome: "denied", reason: "scope_denied", detail: null })]);

    const ok = await enc(billing, "invoice 7", "billing");
    expect(ok.status).toBe(200);
    expect((await dec(billing, ok.body.ciphertext as string, "cls-scope-dec-billing")).status).toBe(200);
  });

  test("a billing token cannot decrypt a pii ciphertext: 403 from the header's class, before any unwrap, audited", async () => {
    const ct = (await enc(owner, "ssn 078-05-1120", "pii")).body.ciphertext as string;
    h.runtime.ctx.cache.clear(); // a cold DEK: an admitted request would unwrap it at the KMS
    const denied = await dec(billing, ct, "cls-scope-dec-pii");
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "scope_denied", dataClass: "pii", operation: "decrypt" });
    const entries = await entriesOf("cls-scope-dec-pii");
    expect(entries).toEqual([expect.objectContaining({ action: "decrypt", outcome: "denied", reason: "scope_denied", detail: { dataClass: "pii" } })]);
    // The owner's decrypt of the same cold ciphertext does unwrap: the refusal above came first.
    await dec(owner, ct, "cls-owner-dec-pii");
    expect((await entriesOf("cls-owner-dec-pii")).map((e) => e.action).sort()).toEqual(["decrypt", "kms.unwrap"]);
  });

  test("a pii ciphertext relabelled as billing's does not get past the DEK's own class: 422, no plaintext", async () => {
    const raw = Buffer.from((await enc(owner, "ssn", "pii")).body.ciphertext as string, "base64");
    uuidToBytes(classIds.billing!).copy(raw, 33);
    const r = await dec(billing, raw.toString("base64"), "cls-scope-relabel");
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("invalid_ciphertext");
    expect(r.body.plaintext).toBeUndefined();
  });

  test("batches: an item of a class outside the scope is that item's scope_denied; the others are served", async () => {
    const e = await h.api.call("POST", `${cbase}/encrypt/batch`, {
      token: billing,
      body: { items: [{ plaintext: b64("a"), dataClass: "billing" }, { plaintext: b64("b"), dataClass: "pii" }, { plaintext: b64("c") }] },
      headers: { "x-request-id": "cls-scope-batch-enc" },
    });
    expect(e.status).toBe(200);
    const results = e.body.results as Array<{ ok: boolean; ciphertext?: string; error?: { code: string } }>;
    expect(results.map((r) => (r.ok ? "ok" : r.error!.code))).toEqual(["ok", "scope_denied", "scope_denied"]);
    expect(results[1]!.error).toMatchObject({ code: "scope_denied", dataClass: "pii", operation: "encrypt" });
    const byIndex = (await entriesOf("cls-scope-batch-enc")).filter((x) => x.action === "encrypt").sort((a, b) => Number(a.detail?.batchIndex) - Number(b.detail?.batchIndex));
    expect(byIndex.map((x) => `${x.outcome}:${x.reason ?? ""}`)).toEqual(["success:", "denied:scope_denied", "denied:scope_denied"]);

    const piiCt = (await enc(owner, "ssn", "pii")).body.ciphertext as string;
    const d = await h.api.call("POST", `${cbase}/decrypt/batch`, { token: billing, body: { items: [{ ciphertext: results[0]!.ciphertext }, { ciphertext: piiCt }] } });
    expect(d.status).toBe(200);
    expect((d.body.results as Array<{ ok: boolean; error?: { code: string } }>).map((r) => (r.ok ? "ok" : r.error!.code))).toEqual(["ok", "scope_denied"]);
  });

  test("streams: a billing token cannot encrypt a pii stream nor decrypt one", async () => {
    const refused = await streamCall(h.runtime.url, `${cbase}/encrypt/stream`, { token: billing, input: Buffer.from("x"), headers: { "x-cmek-data-class": "pii" }, requestId: "cls-scope-stream-enc" });
    expect(refused.status).toBe(403);
    expect(refused.json?.error.code).toBe("scope_denied");
    const sealed = await streamCall(h.runtime.url, `${cbase}/encrypt/stream`, { token: owner, input: Buffer.from("pii stream"), headers: { "x-cmek-data-class": "pii" } });
    expect(sealed.status).toBe(200);
    const opened = await streamCall(h.runtime.url, `${cbase}/decrypt/stream`, { token: billing, input: sealed.body, requestId: "cls-scope-stream-dec" });
    expect(opened.status).toBe(403);
    expect(opened.json?.error.code).toBe("scope_denied");
    expect(opened.body.toString()).not.toContain("pii stream");
    expect(await entriesOf("cls-scope-stream-dec")).toEqual([expect.objectContaining({ action: "decrypt", outcome: "denied", reason: "scope_denied", detail: { dataClass: "pii" } })]);
  });

  test("the list shows class scopes", async () => {
    const list = await h.api.admin("GET", `${cbase}/tokens`);
    expect((list.body.tokens as Array<{ name: string; scope: unknown }>).find((t) => t.name === "billing-svc")?.scope).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: ["billing"] });
  });
});
