// The data path of data classes (issue 12), through the real API, PostgreSQL and two KMS
// emulators: a tenant whose `default` class is on AWS and whose `pii` class is on GCP. Each
// class has its own DEKs under its own key and its own lock scope; a class's ciphertexts
// (format 2) name it, and one relabelled as another class's (or as format 1) is 422; records
// made before the tenant had classes still open.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVELOPE_VERSION, ENVELOPE_VERSION_CLASSED, uuidToBytes } from "@/lib/crypto/envelope";
import { STREAM_FORMAT_BYTE_CLASSED } from "@/lib/crypto/stream-frames";
import { startHarness, type Harness } from "../support/broker-harness";
import { streamCall } from "../support/stream-http";
import { addClass, setClassState } from "../support/data-classes";

let h: Harness;
let token: string;
let tenantId: string;
const classIds: Record<string, string> = {};
let v1Before: string;

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
const SLUG = "scoped";

function encrypt(plaintext: string, dataClass?: string, requestId?: string) {
  return h.api.call("POST", `/api/v1/tenants/${SLUG}/encrypt`, { token, body: { plaintext: b64(plaintext), dataClass }, headers: requestId ? { "x-request-id": requestId } : {} });
}
function decrypt(ciphertext: string | Buffer, requestId?: string) {
  const ct = typeof ciphertext === "string" ? ciphertext : ciphertext.toString("base64");
  return h.api.call("POST", `/api/v1/tenants/${SLUG}/decrypt`, { token, body: { ciphertext: ct }, headers: requestId ? { "x-request-id": requestId } : {} });
}
const plain = (r: { body: { plaintext: string } }) => Buffer.from(r.body.plaintext, "base64").toString();

interface Entry {
  action: string;
  outcome: string;
  reason: string | null;
  dekId: string | null;
  cacheHit: boolean | null;
  detail: { dataClass?: string; batchIndex?: number; stream?: string } | null;
}
async function auditOf(requestId: string): Promise<Entry[]> {
  const r = await h.api.admin("GET", `/api/v1/tenants/${SLUG}/audit?requestId=${requestId}&limit=1000`);
  expect(r.status).toBe(200);
  return (r.body.events as Entry[]).filter((e) => e.action === "encrypt" || e.action === "decrypt");
}

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  await h.runtime.ctx.prober.stop();
  token = await h.api.readyTenant(SLUG, "aws", (await h.aws.createKeyForVendor()).keyArn);
  tenantId = (await h.runtime.ctx.registry.getBySlug(SLUG))!.id;
  // A record of the tenant from before it had any class besides `default`.
  v1Before = (await encrypt("from before classes")).body.ciphertext as string;
  classIds.pii = await addClass(h, SLUG, "pii", "gcp", await h.gcp.createKeyForVendor());
  classIds.billing = await addClass(h, SLUG, "billing", "aws", (await h.aws.createKeyForVendor()).keyArn);
  classIds.empty = await addClass(h, SLUG, "empty", null, null);
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe("data classes on the data path", () => {
  it("encrypts and decrypts per class, each class's DEKs under its own key; a class's records are format 2 and its entries name it", async () => {
    const d = await encrypt("plain default", undefined, "cls-enc-default");
    const p = await encrypt("jane@example.com", "pii", "cls-enc-pii");
    expect([d.status, p.status], JSON.stringify([d.body, p.body])).toEqual([200, 200]);
    const dRaw = Buffer.from(d.body.ciphertext, "base64");
    const pRaw = Buffer.from(p.body.ciphertext, "base64");
    expect(dRaw[0]).toBe(ENVELOPE_VERSION);
    expect(pRaw[0]).toBe(ENVELOPE_VERSION_CLASSED);
    expect(pRaw.subarray(33, 49).equals(uuidToBytes(classIds.pii!))).toBe(true);
    expect(plain(await decrypt(d.body.ciphertext))).toBe("plain default");
    const pd = await decrypt(p.body.ciphertext, "cls-dec-pii");
    expect(pd.status).toBe(200);
    expect(plain(pd)).toBe("jane@example.com");
    // Explicit `default` is the default class.
    expect(Buffer.from((await encrypt("x", "default")).body.ciphertext, "base64")[0]).toBe(ENVELOPE_VERSION);

    const deks = await h.runtime.ctx.db.query<{ data_class_id: string | null; provider: string }>(
      `SELECT d.data_class_id, k.provider::text AS provider FROM data_key d JOIN key_connection k ON k.id = d.key_connection_id WHERE d.tenant_id = $1 ORDER BY d.created_at`,
      [tenantId],
    );
    expect(deks.map((r) => `${r.data_class_id ?? "default"}:${r.provider}`)).toEqual(["default:aws", `${classIds.pii}:gcp`]);
    expect((await auditOf("cls-enc-pii")).map((e) => `${e.outcome}:${e.detail?.dataClass}`)).toEqual(["success:pii"]);
    expect((await auditOf("cls-dec-pii")).map((e) => `${e.outcome}:${e.detail?.dataClass}`)).toEqual(["success:pii"]);
    expect((await auditOf("cls-enc-default")).map((e) => `${e.outcome}:${e.detail?.dataClass}`)).toEqual(["success:undefined"]);
  });

  it("still opens default records made before the tenant had classes", async () => {
    h.runtime.ctx.cache.clear();
    const r = await decrypt(v1Before);
    expect(r.status).toBe(200);
    expect(plain(r)).toBe("from before classes");
  });

  it("refuses an unknown class (404), a class without a key (409), a bad class name (400)", async () => {
    const unknown = await encrypt("x", "nosuch", "cls-unknown");
    expect([unknown.status, unknown.body.error.code, unknown.body.error.message]).toEqual([404, "not_found", "tenant has no data class 'nosuch'"]);
    expect((await auditOf("cls-unknown")).map((e) => `${e.outcome}:${e.reason}:${e.detail?.dataClass}`)).toEqual(["denied:unknown_data_class:nosuch"]);
    const empty = await encrypt("x", "empty", "cls-empty");
    expect([empty.status, empty.body.error.code, empty.body.error.dataClass]).toEqual([409, "tenant_not_ready", "empty"]);
    expect(empty.body.error.message).toContain("'empty'");
    expect((await auditOf("cls-empty")).map((e) => `${e.outcome}:${e.reason}:${e.detail?.dataClass}`)).toEqual(["denied:tenant_not_ready:empty"]);
    expect((await encrypt("x", "Not A Class")).status).toBe(400);
  });

  it("a pii ciphertext relabelled as another class (header class id), as an unknown class, or as format 1 is 422", async () => {
    const p = Buffer.from((await encrypt("secret pii", "pii")).body.ciphertext as string, "base64");
    const asBilling = Buffer.from(p);
    uuidToBytes(classIds.billing!).copy(asBilling, 33);
    for (const warm of [true, false]) {
      // Once with the pii DEK cached (the entry's class), once cold (the stored row's class, before any unwrap).
      if (!warm) h.runtime.ctx.cache.clear();
      const r = await decrypt(asBilling, `cls-relabel-${warm}`);
      expect([r.status, r.body.error.code, r.body.error.message]).toEqual([422, "invalid_ciphertext", "ciphertext names another data class"]);
      expect((await auditOf(`cls-relabel-${warm}`)).map((e) => `${e.outcome}:${e.reason}:${e.detail?.dataClass}`)).toEqual(["invalid:data_class_mismatch:billing"]);
    }
    const unknown = Buffer.from(p);
    uuidToBytes("00000000-0000-4000-8000-000000000000").copy(unknown, 33);
    const u = await decrypt(unknown);
    expect([u.status, u.body.error.message]).toEqual([422, "ciphertext names a data class this tenant does not have"]);
    const asV1 = Buffer.from(p);
    asV1[0] = ENVELOPE_VERSION;
    const v = await decrypt(asV1, "cls-as-v1");
    expect([v.status, v.body.error.code, v.body.error.message]).toEqual([422, "invalid_ciphertext", "ciphertext names another data class"]);
    expect((await auditOf("cls-as-v1")).map((e) => `${e.outcome}:${e.reason}`)).toEqual(["invalid:data_class_mismatch"]);
    // The untouched record still opens, also when it joins a cold load started by relabelled ones.
    h.runtime.ctx.cache.clear();
    const together = await Promise.all([decrypt(asBilling), decrypt(p), decrypt(asBilling), decrypt(p)]);
    expect(together.map((r) => r.status)).toEqual([422, 200, 422, 200]);
    expect(plain(await decrypt(p))).toBe("secret pii");
  });

  it("a locked pii class answers 423 naming it, while default keeps serving; unlocked, pii resumes", async () => {
    const pct = (await encrypt("pii before lock", "pii")).body.ciphertext as string;
    const dct = (await encrypt("default before lock")).body.ciphertext as string;
    await setClassState(h, SLUG, "pii", "locked", "test lock");
    expect(h.runtime.ctx.cache.countForClass(tenantId, classIds.pii!)).toBe(0);
    const e = await encrypt("x", "pii", "cls-locked-enc");
    const d = await decrypt(pct, "cls-locked-dec");
    for (const r of [e, d]) {
      expect([r.status, r.body.error.code, r.body.error.dataClass, r.body.error.reason]).toEqual([423, "tenant_locked", "pii", "kill_switch: test lock"]);
      expect(r.body.error.message).toContain("'pii'");
    }
    expect((await auditOf("cls-locked-enc")).map((x) => `${x.outcome}:${x.reason}:${x.detail?.dataClass}`)).toEqual(["locked:kill_switch: test lock:pii"]);
    expect((await auditOf("cls-locked-dec")).map((x) => `${x.outcome}:${x.reason}:${x.detail?.dataClass}`)).toEqual(["locked:kill_switch: test lock:pii"]);
    expect((await encrypt("default still works")).status).toBe(200);
    expect(plain(await decrypt(dct))).toBe("default before lock");
    expect((await encrypt("billing still works", "billing")).status).toBe(200);
    await setClassState(h, SLUG, "pii", "active");
    expect(plain(await decrypt(pct))).toBe("pii before lock");
  });

  it("dropping one class's DEKs from the cache leaves the other classes' DEKs", async () => {
    const cache = h.runtime.ctx.cache;
    const dct = (await encrypt("d")).body.ciphertext as string;
    await encrypt("p", "pii");
    await encrypt("b", "billing");
    expect(cache.countForClass(tenantId, null)).toBeGreaterThan(0);
    expect(cache.countForClass(tenantId, classIds.pii!)).toBeGreaterThan(0);
    expect(cache.dropClass(tenantId, classIds.pii!)).toBeGreaterThan(0);
    expect(cache.countForClass(tenantId, classIds.pii!)).toBe(0);
    expect(cache.countForClass(tenantId, classIds.billing!)).toBeGreaterThan(0);
    await decrypt(dct, "cls-after-drop");
    expect((await auditOf("cls-after-drop")).map((e) => `${e.outcome}:${e.cacheHit}`)).toEqual(["success:true"]);
  });

  it("batches mix classes: one result per item, each item's entry names its class; an unknown class is that item's 404", async () => {
    const items = [{ plaintext: b64("d0") }, { plaintext: b64("p1"), dataClass: "pii" }, { plaintext: b64("b2"), dataClass: "billing" }, { plaintext: b64("x3"), dataClass: "nosuch" }, { plaintext: b64("p4"), dataClass: "pii" }];
    const enc = await h.api.call("POST", `/api/v1/tenants/${SLUG}/encrypt/batch`, { token, body: { items }, headers: { "x-request-id": "cls-batch-enc" } });
    expect(enc.status, JSON.stringify(enc.body)).toBe(200);
    const results = enc.body.results as Array<{ ok: boolean; ciphertext?: string; error?: { code: string } }>;
    expect(results.map((r) => (r.ok ? Buffer.from(r.ciphertext!, "base64")[0] : r.error!.code))).toEqual([ENVELOPE_VERSION, ENVELOPE_VERSION_CLASSED, ENVELOPE_VERSION_CLASSED, "not_found", ENVELOPE_VERSION_CLASSED]);
    const encAudit = (await auditOf("cls-batch-enc")).sort((a, b) => a.detail!.batchIndex! - b.detail!.batchIndex!);
    expect(encAudit.map((e) => `${e.outcome}:${e.detail?.dataClass}`)).toEqual(["success:undefined", "success:pii", "success:billing", "denied:nosuch", "success:pii"]);
    const cts = results.filter((r) => r.ok).map((r) => ({ ciphertext: r.ciphertext! }));
    const dec = await h.api.call("POST", `/api/v1/tenants/${SLUG}/decrypt/batch`, { token, body: { items: cts }, headers: { "x-request-id": "cls-batch-dec" } });
    expect(dec.status).toBe(200);
    expect((dec.body.results as Array<{ plaintext: string }>).map((r) => Buffer.from(r.plaintext, "base64").toString())).toEqual(["d0", "p1", "b2", "p4"]);
    const decAudit = (await auditOf("cls-batch-dec")).sort((a, b) => a.detail!.batchIndex! - b.detail!.batchIndex!);
    expect(decAudit.map((e) => `${e.outcome}:${e.detail?.dataClass}`)).toEqual(["success:undefined", "success:pii", "success:billing", "success:pii"]);
    // A relabelled item is that item's 422; a lock of a class an item names fails the batch (as a single request).
    const relabelled = Buffer.from(cts[1]!.ciphertext, "base64");
    uuidToBytes(classIds.billing!).copy(relabelled, 33);
    const mixed = await h.api.call("POST", `/api/v1/tenants/${SLUG}/decrypt/batch`, { token, body: { items: [cts[0], { ciphertext: relabelled.toString("base64") }] } });
    expect((mixed.body.results as Array<{ ok: boolean; error?: { message: string } }>).map((r) => r.ok || r.error!.message)).toEqual([true, "ciphertext names another data class"]);
    await setClassState(h, SLUG, "billing", "locked", "batch lock");
    const locked = await h.api.call("POST", `/api/v1/tenants/${SLUG}/decrypt/batch`, { token, body: { items: cts } });
    expect([locked.status, locked.body.error.code, locked.body.error.dataClass]).toEqual([423, "tenant_locked", "billing"]);
    await setClassState(h, SLUG, "billing", "active");
  });

  it("streams a class's data: the stream names its class, and round-trips", async () => {
    const data = randomBytes(200_000);
    const enc = await streamCall(h.runtime.url, `/api/v1/tenants/${SLUG}/encrypt/stream`, { token, input: data, headers: { "x-cmek-data-class": "pii" }, requestId: "cls-stream-enc" });
    expect(enc.status, JSON.stringify(enc.json)).toBe(200);
    expect(enc.body[0]).toBe(STREAM_FORMAT_BYTE_CLASSED);
    expect(enc.body.subarray(53, 69).equals(uuidToBytes(classIds.pii!))).toBe(true);
    const dec = await streamCall(h.runtime.url, `/api/v1/tenants/${SLUG}/decrypt/stream`, { token, input: enc.body, requestId: "cls-stream-dec" });
    expect([dec.status, dec.aborted, dec.trailers["x-cmek-stream"]]).toEqual([200, false, "complete"]);
    expect(dec.body.equals(data)).toBe(true);
    expect((await auditOf("cls-stream-dec")).map((e) => `${e.detail?.stream}:${e.detail?.dataClass}`).sort()).toEqual(["closed:pii", "opened:pii"]);
    // Relabelled as billing's stream: 422 before any byte; with pii locked: 423 naming it.
    const asBilling = Buffer.from(enc.body);
    uuidToBytes(classIds.billing!).copy(asBilling, 53);
    const bad = await streamCall(h.runtime.url, `/api/v1/tenants/${SLUG}/decrypt/stream`, { token, input: asBilling });
    expect([bad.status, bad.json?.error.code, bad.json?.error.message]).toEqual([422, "invalid_ciphertext", "ciphertext names another data class"]);
    await setClassState(h, SLUG, "pii", "locked", "stream lock");
    const locked = await streamCall(h.runtime.url, `/api/v1/tenants/${SLUG}/decrypt/stream`, { token, input: enc.body });
    expect([locked.status, locked.json?.error.code]).toEqual([423, "tenant_locked"]);
    expect((locked.json?.error as { dataClass?: string }).dataClass).toBe("pii");
    await setClassState(h, SLUG, "pii", "active");
  });
});
