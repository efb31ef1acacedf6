// Every API call of the core and revocation features produces EXACTLY the expected audit
// entries: count, order and fields, read back through GET /audit?requestId= (each call sends
// its own x-request-id). The prober is stopped so scheduled probes add nothing; probes are
// covered at the end, on a second instance with a short interval.
//
// Decisions this file pins down (see the report to the issue):
// - A key connect records the round trip it made (kms.wrap, kms.unwrap), its verdict
//   (key.validate) and the change (key.connect). A pending tenant's activation has no entry
//   of its own: a successful key.connect on a pending tenant is the activation (the first
//   key.connect after tenant.create). A key connect that resumes a KMS-locked tenant also
//   records tenant.unlock (reason "validation"), since that lifts a lock.
// - A new DEK made for an encrypt is a cache MISS (the request waited on a KMS wrap).
// - Refusals carry the request's own actor, purpose and request id; a 423 or 503 caused by
//   the KMS is recorded as the request's entry (outcome locked / unavailable) next to the
//   KMS call that caused it, and a lock found on use links to the request that found it.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";
import type { Json } from "@/testkit/api-client";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";

let h: Harness;

type Ev = Record<string, Json>;

beforeAll(async () => {
  // Every call under test must reach the KMS so its entries can be counted; the per-key circuit
  // (fast 503s without a KMS call after an outage) is covered in test/api/kms-circuit.test.ts.
  h = await startHarness({ BROKER_KMS_CIRCUIT_MS: "0" });
  // Scheduled probes would add kms.probe entries between the calls under test.
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  await h?.close();
});

const newRid = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Calls the API with a request id of our own; returns the response and that id. */
async function call(method: string, path: string, opts: { token?: string; body?: unknown; label?: string } = {}) {
  const rid = newRid(opts.label ?? method.toLowerCase());
  const res = await h.api.call(method, path, { token: opts.token, body: opts.body, headers: { "x-request-id": rid } });
  expect(res.headers.get("x-request-id")).toBe(rid);
  return { ...res, rid };
}

/** The tenant's entries carrying this request id, oldest first. */
async function entriesOf(slug: string, rid: string): Promise<Ev[]> {
  const r = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?requestId=${encodeURIComponent(rid)}&limit=100`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (r.body.events as Ev[]).slice().reverse();
}

/** Exactly these entries, in this order; each spec is matched as a subset of the entry's fields. */
async function expectExactly(slug: string, rid: string, specs: Ev[]): Promise<Ev[]> {
  const got = await entriesOf(slug, rid);
  expect(got.map((e) => `${e.action}:${e.outcome}`), JSON.stringify(got, null, 1)).toEqual(specs.map((s) => `${s.action}:${s.outcome}`));
  got.forEach((e, i) => {
    expect(e, `${rid} entry ${i} (${e.action})`).toMatchObject({ requestId: rid, ...specs[i] });
    // Every KMS call is timed; the data path and control entries are not.
    if (String(e.action).startsWith("kms.")) expect(e.latencyMs).toBeGreaterThanOrEqual(0);
  });
  return got;
}

const ADMIN = { actorType: "admin_token", actorId: null, actorName: "vendor-admin" } as const;

describe("audit completeness of the core and revocation API", () => {
  const slug = "acme";
  const other = "globex";
  let keyArn: string;
  let aws: { provider: "aws"; keyRef: string };
  let tokenId: string;
  let token: string;
  let svc: { actorType: "service_token"; actorId: string; actorName: string };
  let otherToken: string;
  let otherTokenId: string;
  let ciphertext: string;
  let dekId: string;
  const allRids: string[] = [];
  const track = <T extends { rid: string }>(r: T): T => {
    allRids.push(r.rid);
    return r;
  };

  test("tenant create: one tenant.create entry", async () => {
    const r = track(await call("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { slug, name: "Acme Inc" } }));
    expect(r.status).toBe(201);
    await expectExactly(slug, r.rid, [
      { ...ADMIN, action: "tenant.create", outcome: "success", reason: null, dekId: null, provider: null, detail: { slug, name: "Acme Inc" } },
    ]);
  });

  test("key connect: kms.wrap + kms.unwrap (canary round trip), key.validate, key.connect; pending -> active by the connect itself", async () => {
    keyArn = (await h.aws.createKeyForVendor()).keyArn;
    aws = { provider: "aws", keyRef: keyArn };
    const r = track(await call("PUT", `/api/v1/tenants/${slug}/key`, { token: ADMIN_TOKEN, body: { provider: "aws", keyId: keyArn } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.tenant.state).toBe("active");
    const got = await expectExactly(slug, r.rid, [
      { ...ADMIN, action: "kms.wrap", outcome: "success", ...aws, keyVersion: expect.any(String), dekId: null },
      { ...ADMIN, action: "kms.unwrap", outcome: "success", ...aws, dekId: null },
      { ...ADMIN, action: "key.validate", outcome: "success", ...aws, keyVersion: expect.any(String), reason: null },
      { ...ADMIN, action: "key.connect", outcome: "success", ...aws, keyVersion: expect.any(String) },
    ]);
    expect(got[2]!.detail.steps.map((s: Ev) => `${s.step}:${s.ok}`)).toEqual(["wrap:true", "unwrap:true", "compare:true"]);
  });

  test("a failed key connect is recorded too: kms.wrap denied + key.validate denied naming the step, no key.connect", async () => {
    const noGrant = await h.aws.createKey();
    const r = track(await call("PUT", `/api/v1/tenants/${slug}/key`, { token: ADMIN_TOKEN, body: { provider: "aws", keyId: noGrant } }));
    expect(r.status).toBe(422);
    await expectExactly(slug, r.rid, [
      { ...ADMIN, action: "kms.wrap", outcome: "revoked", provider: "aws", keyRef: noGrant, reason: "kms:aws:access_denied" },
      { ...ADMIN, action: "key.validate", outcome: "denied", provider: "aws", keyRef: noGrant, reason: "wrap:access_denied" },
    ]);
    // A refused validation of a key not yet connected must not lock the tenant.
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.state).toBe("active");
  });

  test("token create: one token.create entry naming the token (never the secret)", async () => {
    const r = track(await call("POST", `/api/v1/tenants/${slug}/tokens`, { token: ADMIN_TOKEN, body: { name: "billing-svc" } }));
    expect(r.status).toBe(201);
    token = r.body.token;
    tokenId = r.body.id;
    svc = { actorType: "service_token", actorId: tokenId, actorName: "billing-svc" };
    const [e] = await expectExactly(slug, r.rid, [{ ...ADMIN, action: "token.create", outcome: "success", detail: { tokenId, name: "billing-svc" } }]);
    expect(JSON.stringify(e)).not.toContain(token);
  });

  test("encrypt on a new DEK: kms.wrap of the DEK + encrypt (cache miss); the next encrypt is one entry (cache hit)", async () => {
    const r = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("hello audit"), purpose: "invoice-pdf", context: { row: "1" } } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    ciphertext = r.body.ciphertext;
    const got = await expectExactly(slug, r.rid, [
      { ...svc, action: "kms.wrap", outcome: "success", ...aws, keyVersion: expect.any(String), dekId: expect.any(String), cacheHit: null },
      { ...svc, action: "encrypt", outcome: "success", cacheHit: false, bytes: 11, purpose: "invoice-pdf", provider: null, reason: null },
    ]);
    dekId = got[0]!.dekId;
    expect(got[1]!.dekId).toBe(dekId);

    const hit = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("second"), purpose: "invoice-pdf" } }));
    expect(hit.status).toBe(200);
    await expectExactly(slug, hit.rid, [{ ...svc, action: "encrypt", outcome: "success", dekId, cacheHit: true, bytes: 6, purpose: "invoice-pdf" }]);
  });

  test("decrypt on a cache miss: kms.unwrap + decrypt (miss); then a hit is one decrypt entry", async () => {
    h.runtime.ctx.cache.clear();
    const miss = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "1" }, purpose: "render" } }));
    expect(miss.status, JSON.stringify(miss.body)).toBe(200);
    expect(Buffer.from(miss.body.plaintext, "base64").toString()).toBe("hello audit");
    await expectExactly(slug, miss.rid, [
      { ...svc, action: "kms.unwrap", outcome: "success", ...aws, dekId },
      { ...svc, action: "decrypt", outcome: "success", dekId, cacheHit: false, bytes: 11, purpose: "render", reason: null },
    ]);
    const hit = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "1" }, purpose: "render" } }));
    expect(hit.status).toBe(200);
    await expectExactly(slug, hit.rid, [{ ...svc, action: "decrypt", outcome: "success", dekId, cacheHit: true, bytes: 11, purpose: "render" }]);
  });

  test("denied: another tenant's token (403) and a missing or unknown token (401) are recorded in the targeted tenant's log", async () => {
    const setup = await call("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { slug: other, name: other } });
    expect(setup.status).toBe(201);
    const otherTok = await h.api.call("POST", `/api/v1/tenants/${other}/tokens`, { token: ADMIN_TOKEN, body: { name: "intruder" } });
    otherToken = otherTok.body.token;
    otherTokenId = otherTok.body.id;

    const cross = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token: otherToken, body: { ciphertext, context: { row: "1" }, purpose: "snoop" } }));
    expect(cross.status).toBe(403);
    await expectExactly(slug, cross.rid, [
      { actorType: "service_token", actorId: otherTokenId, actorName: "intruder", action: "decrypt", outcome: "denied", reason: "token_of_another_tenant", purpose: "snoop", dekId: null, cacheHit: null },
    ]);
    expect(await entriesOf(other, cross.rid)).toEqual([]);

    const crossEnc = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token: otherToken, body: { plaintext: b64("x") } }));
    expect(crossEnc.status).toBe(403);
    await expectExactly(slug, crossEnc.rid, [{ actorType: "service_token", actorId: otherTokenId, action: "encrypt", outcome: "denied", reason: "token_of_another_tenant" }]);

    const missing = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { body: { ciphertext } }));
    expect(missing.status).toBe(401);
    // Unauthenticated refusals are counted and summarized per window (auth.refused, no request id),
    // never one entry each under the sender's request id: test/security/auth-refusals.test.ts.
    expect(await entriesOf(slug, missing.rid)).toEqual([]);

    const unknown = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token: "cmk_not-a-real-token-000000000000", body: { plaintext: b64("x") } }));
    expect(unknown.status).toBe(401);
    expect(await entriesOf(slug, unknown.rid)).toEqual([]);

    // The vendor admin token is not a data credential: refused, and recorded under its own name.
    const admin = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token: ADMIN_TOKEN, body: { ciphertext } }));
    expect(admin.status).toBe(403);
    await expectExactly(slug, admin.rid, [{ ...ADMIN, action: "decrypt", outcome: "denied", reason: "forbidden", dekId: null }]);
  });

  test("invalid: wrong context and a garbage ciphertext are 422 with one decrypt entry each (outcome invalid)", async () => {
    const wrong = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "2" }, purpose: "render" } }));
    expect(wrong.status).toBe(422);
    await expectExactly(slug, wrong.rid, [
      { ...svc, action: "decrypt", outcome: "invalid", reason: "invalid_ciphertext", dekId, cacheHit: true, purpose: "render", bytes: Buffer.from(ciphertext, "base64").length },
    ]);
    const garbage = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext: b64("definitely not an envelope") } }));
    expect(garbage.status).toBe(422);
    await expectExactly(slug, garbage.rid, [{ ...svc, action: "decrypt", outcome: "invalid", reason: "invalid_ciphertext", dekId: null }]);
  });

  test("kill switch: tenant.lock; 423s recorded as locked; unlock = kms.wrap + kms.unwrap (re-validation) + tenant.unlock", async () => {
    const lock = track(await call("POST", `/api/v1/tenants/${slug}/lock`, { token: ADMIN_TOKEN, body: { reason: "incident 42" } }));
    expect(lock.status).toBe(200);
    await expectExactly(slug, lock.rid, [{ ...ADMIN, action: "tenant.lock", outcome: "success", reason: "kill_switch: incident 42", detail: { source: "kill_switch" } }]);

    const dec = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "1" }, purpose: "render" } }));
    expect(dec.status).toBe(423);
    await expectExactly(slug, dec.rid, [{ ...svc, action: "decrypt", outcome: "locked", reason: "kill_switch: incident 42", purpose: "render", dekId: null }]);
    const enc = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("x") } }));
    expect(enc.status).toBe(423);
    await expectExactly(slug, enc.rid, [{ ...svc, action: "encrypt", outcome: "locked", reason: "kill_switch: incident 42" }]);

    const unlock = track(await call("POST", `/api/v1/tenants/${slug}/unlock`, { token: ADMIN_TOKEN }));
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    await expectExactly(slug, unlock.rid, [
      { ...ADMIN, action: "kms.wrap", outcome: "success", ...aws, keyVersion: expect.any(String) },
      { ...ADMIN, action: "kms.unwrap", outcome: "success", ...aws },
      { ...ADMIN, action: "tenant.unlock", outcome: "success", reason: "admin" },
    ]);
  });

  test("token revoke: token.revoke; the revoked token is then refused (401), counted like any unauthenticated refusal", async () => {
    const tmp = await h.api.call("POST", `/api/v1/tenants/${slug}/tokens`, { token: ADMIN_TOKEN, body: { name: "temp" }, headers: { "x-request-id": newRid("tmp") } });
    allRids.push(tmp.headers.get("x-request-id")!);
    const r = track(await call("DELETE", `/api/v1/tenants/${slug}/tokens/${tmp.body.id}`, { token: ADMIN_TOKEN }));
    expect(r.status).toBe(204);
    await expectExactly(slug, r.rid, [{ ...ADMIN, action: "token.revoke", outcome: "success", detail: { tokenId: tmp.body.id } }]);
    const use = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token: tmp.body.token, body: { plaintext: b64("x") } }));
    expect(use.status).toBe(401);
    expect(await entriesOf(slug, use.rid)).toEqual([]);
  });

  test("KMS unreachable on a miss: kms.unwrap unavailable + decrypt unavailable (503), and no lock", async () => {
    h.runtime.ctx.cache.clear();
    h.emulators.aws.faults.set({ error: "server_error", operations: ["Decrypt"] });
    try {
      const r = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "1" }, purpose: "render" } }));
      expect(r.status, JSON.stringify(r.body)).toBe(503);
      await expectExactly(slug, r.rid, [
        { ...svc, action: "kms.unwrap", outcome: "unavailable", ...aws, dekId },
        { ...svc, action: "decrypt", outcome: "unavailable", dekId, purpose: "render", cacheHit: null },
      ]);
    } finally {
      h.emulators.aws.faults.clear();
    }
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.state).toBe("active");
  });

  test("revocation detected on use: kms.unwrap revoked + tenant.lock (kms:aws:disabled, same request id) + decrypt locked", async () => {
    await h.aws.disable(keyArn);
    h.runtime.ctx.cache.clear();
    const r = track(await call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { row: "1" }, purpose: "render" } }));
    expect(r.status, JSON.stringify(r.body)).toBe(423);
    const got = await entriesOf(slug, r.rid);
    // The lock is enforced (and so recorded) before the KMS answer that caused it is written;
    // compare as a set keyed by action, then check the request's own entry comes last.
    const byAction = Object.fromEntries(got.map((e) => [e.action, e]));
    expect(got.map((e) => e.action).sort()).toEqual(["decrypt", "kms.unwrap", "tenant.lock"]);
    expect(byAction["kms.unwrap"]).toMatchObject({ ...svc, outcome: "revoked", ...aws, dekId, reason: "kms:aws:disabled" });
    expect(byAction["kms.unwrap"]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(byAction["tenant.lock"]).toMatchObject({ actorType: "system", actorName: "broker", outcome: "success", reason: "kms:aws:disabled", detail: { source: "kms" } });
    expect(got[2]).toMatchObject({ ...svc, action: "decrypt", outcome: "locked", reason: "kms:aws:disabled", dekId, purpose: "render" });

    const after = track(await call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("x") } }));
    expect(after.status).toBe(423);
    await expectExactly(slug, after.rid, [{ ...svc, action: "encrypt", outcome: "locked", reason: "kms:aws:disabled" }]);
  });

  test("the key restored and re-connected: the connect's round trip lifts the KMS lock (tenant.unlock, reason validation)", async () => {
    await h.aws.enable(keyArn);
    const r = track(await call("PUT", `/api/v1/tenants/${slug}/key`, { token: ADMIN_TOKEN, body: { provider: "aws", keyId: keyArn } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.tenant.state).toBe("active");
    await expectExactly(slug, r.rid, [
      { ...ADMIN, action: "kms.wrap", outcome: "success", ...aws },
      { ...ADMIN, action: "kms.unwrap", outcome: "success", ...aws },
      { ...ADMIN, action: "key.validate", outcome: "success", ...aws },
      { ...ADMIN, action: "key.connect", outcome: "success", ...aws },
      { ...ADMIN, action: "tenant.unlock", outcome: "success", reason: "validation" },
    ]);
  });

  test("export: audit.export, one entry per export whatever its size; listing and verifying record nothing", async () => {
    for (const format of ["jsonl", "csv"]) {
      const r = track(await call("GET", `/api/v1/tenants/${slug}/audit/export?format=${format}`, { token: ADMIN_TOKEN }));
      expect(r.status).toBe(200);
      await expectExactly(slug, r.rid, [{ ...ADMIN, action: "audit.export", outcome: "success", detail: { format } }]);
    }
    const list = await call("GET", `/api/v1/tenants/${slug}/audit`, { token: ADMIN_TOKEN });
    const verify = await call("GET", `/api/v1/tenants/${slug}/audit/verify`, { token: ADMIN_TOKEN });
    expect(await entriesOf(slug, list.rid)).toEqual([]);
    expect(await entriesOf(slug, verify.rid)).toEqual([]);
  });

  test("nothing else was recorded: every entry of the tenant belongs to one of the calls above, and the chain verifies", async () => {
    const all: Ev[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=7${q}`);
      all.push(...page.body.events);
      cursor = page.body.nextCursor;
    } while (cursor);
    // auth.refused summaries stand for the unauthenticated calls above (written once a window ends).
    const stray = all.filter((e) => !allRids.includes(e.requestId) && !(e.action === "auth.refused" && e.requestId === null));
    expect(stray, JSON.stringify(stray, null, 1)).toEqual([]);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => all.length - i));
    const v = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/verify`);
    expect(v.body).toMatchObject({ ok: true, count: all.length });
    console.log(`tenant ${slug}: ${all.length} entries from ${allRids.length} calls, chain ok`);
  });
});

describe("probes", () => {
  let prober: BrokerRuntime;
  const slug = "probed";
  let keyArn: string;

  afterAll(async () => {
    await prober?.close();
  });

  test("a running prober records kms.probe entries (system/prober, no request id); a revoked probe locks and a working one resumes", async () => {
    keyArn = (await h.aws.createKeyForVendor()).keyArn;
    const token = await h.api.readyTenant(slug, "aws", keyArn);
    // A second instance on the same database with a 500 ms interval; it probes keys of tenants it holds DEKs for.
    prober = await h.startInstance({ BROKER_PROBE_INTERVAL_MS: "500" });
    const api = new ApiClient(prober.url);
    expect((await api.encrypt(slug, token, "warm the cache")).status).toBe(200);

    const probes = async (outcome: string) =>
      ((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?action=kms.probe&outcome=${outcome}&limit=100`)).body.events as Ev[]);
    const waitFor = async (fn: () => Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await fn()) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    expect(await waitFor(async () => (await probes("success")).length >= 2, 8000)).toBe(true);
    const [p] = await probes("success");
    expect(p).toMatchObject({ actorType: "system", actorName: "prober", outcome: "success", provider: "aws", keyRef: keyArn, requestId: null, dekId: null });
    expect(p!.latencyMs).toBeGreaterThanOrEqual(0);

    await h.aws.disable(keyArn);
    expect(await waitFor(async () => (await probes("revoked")).length >= 1, 8000)).toBe(true);
    const [revoked] = (await probes("revoked")).slice(-1);
    expect(revoked).toMatchObject({ reason: "kms:aws:disabled", actorName: "prober" });
    const locks = (await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?action=tenant.lock`)).body.events as Ev[];
    expect(locks).toHaveLength(1);
    expect(locks[0]).toMatchObject({ reason: "kms:aws:disabled", detail: { source: "kms" }, requestId: null });

    await h.aws.enable(keyArn);
    const unlocked = async () => ((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?action=tenant.unlock`)).body.events as Ev[]);
    expect(await waitFor(async () => (await unlocked()).length === 1, 8000)).toBe(true);
    expect((await unlocked())[0]).toMatchObject({ actorType: "system", actorName: "prober", reason: "probe" });
    // The resume re-validated with a full round trip, recorded as the prober's kms.wrap + kms.unwrap.
    const u = (await unlocked())[0]!;
    const around = (await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=10&cursor=${Buffer.from(`seq:${u.seq + 1}`).toString("base64url")}`)).body.events as Ev[];
    expect(around.slice(0, 3).map((e) => `${e.action}:${e.actorName}`)).toEqual(["tenant.unlock:prober", "kms.unwrap:prober", "kms.wrap:prober"]);
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/verify`)).body.ok).toBe(true);
  });
});
