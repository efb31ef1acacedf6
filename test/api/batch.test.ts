// Batch encrypt and decrypt through the real API (PostgreSQL, the AWS emulator over the SDK):
// per-item results in order, a bad item never failing the others, each item its own audit entry
// in one group commit, a lock or an outage failing the whole batch, and the size limits.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;
let otherToken: string;

type Result = { ok: true; ciphertext?: string; plaintext?: string } | { ok: false; error: { code: string; message: string } };

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_KMS_TIMEOUT_MS: "300", BROKER_KMS_CIRCUIT_MS: "0" });
  const keyArn = (await h.aws.createKeyForVendor()).keyArn;
  token = await h.api.readyTenant("batch", "aws", keyArn);
  otherToken = await h.api.readyTenant("batch-other", "aws", (await h.aws.createKeyForVendor()).keyArn);
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  await h?.close();
});

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

function batch(op: "encrypt" | "decrypt", items: unknown[], opts: { token?: string; slug?: string; requestId?: string } = {}) {
  return h.api.call("POST", `/api/v1/tenants/${opts.slug ?? "batch"}/${op}/batch`, {
    token: opts.token ?? token,
    body: { items },
    headers: opts.requestId ? { "x-request-id": opts.requestId } : {},
  });
}

async function auditOf(requestId: string, slug = "batch") {
  const r = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?requestId=${requestId}&limit=1000`);
  expect(r.status).toBe(200);
  // The request's KMS calls (kms.unwrap on a cold DEK) carry its request id too.
  return (r.body.events as Array<{ seq: number; action: string; outcome: string; reason: string | null; purpose: string | null; detail: { batchIndex: number; batchSize: number } }>)
    .filter((e) => e.action === "encrypt" || e.action === "decrypt")
    .sort(
    (a, b) => a.detail.batchIndex - b.detail.batchIndex,
  );
}

describe("batch", () => {
  it("answers mixed good and bad items one result each, in order, and audits every item in one group commit", async () => {
    const foreign = (await h.api.encrypt("batch-other", otherToken, "not yours")).body.ciphertext as string;
    const enc = await batch(
      "encrypt",
      [
        { plaintext: b64("alpha"), context: { row: "1" }, purpose: "export" },
        { plaintext: "not base64!" },
        { plaintext: b64("beta") },
        { plaintext: b64(randomBytes(1024 * 1024 + 1)) },
        { plaintext: b64("gamma"), context: { row: "3" }, extra: 1 },
        { plaintext: b64("") },
      ],
      { requestId: "batch-enc-mixed" },
    );
    expect(enc.status).toBe(200);
    const er = enc.body.results as Result[];
    expect(er.map((r) => (r.ok ? "ok" : r.error.code))).toEqual(["ok", "invalid_request", "ok", "payload_too_large", "invalid_request", "ok"]);
    expect(er[1]).toMatchObject({ error: { message: expect.stringMatching(/plaintext: must be standard base64/) } });
    const [alpha, , beta, , , empty] = er.map((r) => (r.ok ? r.ciphertext! : ""));
    // A batch's ciphertexts are ordinary records: the single decrypt opens them.
    expect((await h.api.decrypt("batch", token, alpha!, { row: "1" })).body.plaintext).toBe(b64("alpha"));

    const tampered = Buffer.from(beta!, "base64");
    tampered[tampered.length - 1]! ^= 1;
    const dec = await batch(
      "decrypt",
      [
        { ciphertext: alpha, context: { row: "1" } },
        { ciphertext: alpha, context: { row: "2" } },
        { ciphertext: tampered.toString("base64") },
        { ciphertext: beta, purpose: "audit-check" },
        { ciphertext: foreign },
        { ciphertext: b64("short") },
        { nope: true },
        { ciphertext: empty },
      ],
      { requestId: "batch-dec-mixed" },
    );
    expect(dec.status).toBe(200);
    const dr = dec.body.results as Result[];
    expect(dr.map((r) => (r.ok ? Buffer.from(r.plaintext!, "base64").toString() : r.error.code))).toEqual([
      "alpha",
      "invalid_ciphertext",
      "invalid_ciphertext",
      "beta",
      "invalid_ciphertext",
      "invalid_ciphertext",
      "invalid_request",
      "",
    ]);
    expect(dr[4]).toMatchObject({ error: { message: expect.stringMatching(/another tenant/) } });

    const encAudit = await auditOf("batch-enc-mixed");
    expect(encAudit.map((e) => `${e.detail.batchIndex}/${e.detail.batchSize}:${e.action}:${e.outcome}`)).toEqual([
      "0/6:encrypt:success",
      "1/6:encrypt:invalid",
      "2/6:encrypt:success",
      "3/6:encrypt:invalid",
      "4/6:encrypt:invalid",
      "5/6:encrypt:success",
    ]);
    expect(encAudit[0]!.purpose).toBe("export");
    const decAudit = await auditOf("batch-dec-mixed");
    expect(decAudit.map((e) => `${e.detail.batchIndex}:${e.outcome}:${e.reason ?? ""}`)).toEqual([
      "0:success:",
      "1:invalid:invalid_ciphertext",
      "2:invalid:invalid_ciphertext",
      "3:success:",
      "4:invalid:invalid_ciphertext",
      "5:invalid:invalid_ciphertext",
      "6:invalid:invalid_request",
      "7:success:",
    ]);
    expect(decAudit[3]!.purpose).toBe("audit-check");
    // One group commit: the items' entries are consecutive in the tenant's chain.
    const seqs = decAudit.map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs[seqs.length - 1]! - seqs[0]!).toBe(seqs.length - 1);
    expect((await h.api.admin("GET", "/api/v1/tenants/batch/audit/verify")).body.ok).toBe(true);
  });

  it("round-trips a batch of the full 1,000 items", async () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ plaintext: b64(`item ${i}`), context: { i: String(i) } }));
    const enc = await batch("encrypt", items);
    expect(enc.status).toBe(200);
    const cts = (enc.body.results as Result[]).map((r) => (r.ok ? r.ciphertext! : ""));
    const dec = await batch(
      "decrypt",
      cts.map((ciphertext, i) => ({ ciphertext, context: { i: String(i) } })),
    );
    expect(dec.status).toBe(200);
    expect((dec.body.results as Result[]).every((r, i) => r.ok && Buffer.from(r.plaintext!, "base64").toString() === `item ${i}`)).toBe(true);
  });

  it("refuses more than 1,000 items (400) and a body over 4 MiB (413), with messages that say so", async () => {
    const many = await batch("encrypt", Array.from({ length: 1001 }, () => ({ plaintext: b64("x") })));
    expect(many.status).toBe(400);
    expect(many.body.error.code).toBe("invalid_request");
    expect(many.body.error.message).toMatch(/at most 1000 items/);
    const none = await batch("decrypt", []);
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/at least one item/);
    const big = b64(randomBytes(900 * 1024));
    const huge = await batch("encrypt", Array.from({ length: 5 }, () => ({ plaintext: big })));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe("payload_too_large");
    expect(huge.body.error.message).toMatch(/batch request body is limited to 4 MiB/);
    // A single request keeps its own limit and message.
    const single = await h.api.encrypt("batch", token, randomBytes(1024 * 1024 + 64 * 1024));
    expect(single.status).toBe(413);
    expect(single.body.error.message).toMatch(/1 MiB/);
  });

  it("an outage fails the whole batch with 503 and Retry-After, each item audited as unavailable", async () => {
    const ct = (await h.api.encrypt("batch", token, "during outage")).body.ciphertext as string;
    h.runtime.ctx.cache.clear();
    h.emulators.aws.faults.set({ error: "blackhole" });
    try {
      const r = await batch("decrypt", [{ ciphertext: ct }, { ciphertext: b64("garbage") }], { requestId: "batch-outage" });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe("kms_unavailable");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await auditOf("batch-outage")).map((e) => e.outcome)).toEqual(["unavailable", "unavailable"]);
    } finally {
      h.emulators.aws.faults.clear();
    }
    expect((await batch("decrypt", [{ ciphertext: ct }])).body.results[0].ok).toBe(true);
  });

  it("a locked tenant gets 423 for the whole batch, each item audited as locked", async () => {
    const ct = (await h.api.encrypt("batch", token, "before lock")).body.ciphertext as string;
    expect((await h.api.admin("POST", "/api/v1/tenants/batch/lock", { reason: "batch test" })).status).toBe(200);
    try {
      for (const [op, items] of [
        ["decrypt", [{ ciphertext: ct }, { ciphertext: ct, purpose: "p" }]],
        ["encrypt", [{ plaintext: b64("x") }, { plaintext: "bad" }]],
      ] as const) {
        const r = await batch(op, [...items], { requestId: `batch-locked-${op}` });
        expect(r.status).toBe(423);
        expect(r.body.error.code).toBe("tenant_locked");
        expect(r.body.error.reason).toMatch(/kill_switch/);
        const audit = await auditOf(`batch-locked-${op}`);
        expect(audit.map((e) => `${e.detail.batchIndex}:${e.action}:${e.outcome}`)).toEqual([`0:${op}:locked`, `1:${op}:locked`]);
      }
    } finally {
      expect((await h.api.admin("POST", "/api/v1/tenants/batch/unlock")).status).toBe(200);
    }
  });

  it("another tenant's token is refused for the whole batch", async () => {
    const r = await batch("encrypt", [{ plaintext: b64("x") }], { token: otherToken });
    expect(r.status).toBe(403);
  });
});
