// Data classes as lock scopes (issue 12), on two broker instances sharing one PostgreSQL: the
// tenant's `default` class on AWS, its `pii` class on GCP. Revoking the pii key at its emulator
// locks pii on both instances within the probe interval + 1 s (423 naming the class), while
// default requests keep succeeding throughout; restoring the key resumes pii on both. Then the
// kill switch of one class and of the whole tenant, unlock, the class resources (create, list,
// get, remove), a bad class key failing exactly like a bad tenant key, and a key switch within
// pii that re-wraps pii's DEKs only.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { waitFor as poll } from "../support/wait";
import { activityReported, DecryptStream, printTable } from "../revocation/helpers";

const INTERVAL_MS = 1000;
const BOUND_MS = INTERVAL_MS + 1000;
const SLUG = "cls-t";

let h: Harness;
let second: BrokerRuntime;
let apis: [ApiClient, ApiClient];
let token: string;
let piiKey: string;
const items: Record<"default" | "pii", Array<{ ciphertext: string; plaintext: string }>> = { default: [], pii: [] };

async function encryptIn(api: ApiClient, dataClass: string | undefined, plaintext: string) {
  return api.call("POST", `/api/v1/tenants/${SLUG}/encrypt`, { token, body: { plaintext: Buffer.from(plaintext).toString("base64"), ...(dataClass ? { dataClass } : {}) } });
}

const status = async () => (await apis[0].admin("GET", `/api/v1/tenants/${SLUG}/status`)).body;
const classState = async (name: string) => ((await status()).classes as Array<{ name: string; state: string; lockSource: string | null }>).find((c) => c.name === name);

/** Every instance answers `want` for one ciphertext of the class. */
async function allAnswer(cls: "default" | "pii", want: number, what: string, timeoutMs = 5000) {
  await poll(async () => (await Promise.all(apis.map((a) => a.decrypt(SLUG, token, items[cls][0]!.ciphertext)))).every((r) => r.status === want), { what, timeoutMs });
}

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS), BROKER_DEK_CACHE_TTL_MS: "600000" });
  second = await h.startInstance();
  apis = [h.api, new ApiClient(second.url)];
  const { keyArn } = await h.aws.createKeyForVendor();
  token = await h.api.readyTenant(SLUG, "aws", keyArn);
  expect((await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name: "pii" })).status).toBe(201);
  piiKey = await h.gcp.createKeyForVendor();
  const c = await h.api.admin("PUT", `/api/v1/tenants/${SLUG}/classes/pii/key`, { provider: "gcp", keyId: piiKey });
  expect(c.status, JSON.stringify(c.body)).toBe(200);
  expect(c.body.dataClass).toMatchObject({ name: "pii", state: "active", key: { provider: "gcp", role: "primary" } });
  // Each instance encrypts (and so caches DEKs of) both classes.
  for (const [i, api] of apis.entries()) {
    for (const cls of ["default", "pii"] as const) {
      for (let n = 0; n < 2; n++) {
        const plaintext = `${cls} record ${i}.${n}`;
        const r = await encryptIn(api, cls === "default" ? undefined : cls, plaintext);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        items[cls].push({ ciphertext: r.body.ciphertext, plaintext });
      }
    }
  }
  await activityReported(h.runtime.db, SLUG);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe("a data class is its own lock scope, on two instances", () => {
  test("revoking the pii key locks pii on both instances within interval + 1 s; default keeps serving (0 failures); restoring resumes pii on both", async () => {
    const streams = apis.flatMap((api) => [new DecryptStream(api, SLUG, token, items.default, 2, 5).start(), new DecryptStream(api, SLUG, token, items.pii, 1, 5).start()]);
    const [default1, pii1, default2, pii2] = streams as [DecryptStream, DecryptStream, DecryptStream, DecryptStream];
    await poll(() => streams.every((s) => s.samples.some((x) => x.status === 200)), { what: "both classes served on both instances" });

    const revokeStart = Date.now();
    await h.gcp.setVendorBinding(piiKey, false);
    const refused = await Promise.all(
      [pii1, pii2].map((s) => poll(() => s.first((x) => x.status === 423 && x.sent >= revokeStart), { what: "a 423 for pii", timeoutMs: BOUND_MS + 3000 })),
    );
    // Keep default's load on a little past the lock, so "throughout" covers it.
    await poll(() => [default1, default2].every((s) => s.samples.filter((x) => x.sent > Math.max(...refused.map((r) => r.recv))).length >= 5), { what: "default requests after pii's lock" });
    const restoreStart = Date.now();
    await h.gcp.setVendorBinding(piiKey, true);
    const resumed = await Promise.all(
      [pii1, pii2].map((s) => poll(() => s.first((x) => x.status === 200 && x.sent >= restoreStart), { what: "pii served again", timeoutMs: BOUND_MS + 3000 })),
    );
    const samples = await Promise.all(streams.map((s) => s.stop()));
    const [d1, p1, d2, p2] = samples as [typeof samples[0], typeof samples[0], typeof samples[0], typeof samples[0]];

    printTable("pii revoked and restored (ms from the emulator call; two instances)", [
      { instance: 1, "pii first 423": refused[0]!.recv - revokeStart, "pii first 200 again": resumed[0]!.recv - restoreStart, "default requests": d1.length, "default failures": d1.filter((x) => x.status !== 200).length },
      { instance: 2, "pii first 423": refused[1]!.recv - revokeStart, "pii first 200 again": resumed[1]!.recv - restoreStart, "default requests": d2.length, "default failures": d2.filter((x) => x.status !== 200).length },
    ]);
    for (const r of refused) expect(r.recv - revokeStart).toBeLessThanOrEqual(BOUND_MS);
    for (const r of resumed) expect(r.recv - restoreStart).toBeLessThanOrEqual(BOUND_MS + 1000);
    expect([...d1, ...d2].filter((x) => x.status !== 200)).toEqual([]);
    expect([...d1, ...d2].every((x) => x.plaintextOk)).toBe(true);
    // pii answered only 200 or 423 (never a 5xx), and nothing was served between its first 423 and the restore.
    for (const [s, first] of [[p1, refused[0]!], [p2, refused[1]!]] as const) {
      expect(s.filter((x) => x.status !== 200 && x.status !== 423)).toEqual([]);
      expect(s.filter((x) => x.sent >= first.recv && x.recv < restoreStart && x.status === 200)).toEqual([]);
    }
    // The lock was the class's, recorded as such; the tenant's own state never changed.
    const st = await status();
    expect(st.state).toBe("active");
    const hist = (await apis[1].admin("GET", `/api/v1/tenants/${SLUG}/health`)).body;
    const piiHealth = hist.classes.find((c: { name: string }) => c.name === "pii");
    expect(piiHealth.locks[0]).toMatchObject({ cause: "kms" });
    expect(piiHealth.lastLock.reason).toMatch(/^kms:gcp:/);
    expect(hist.classes.find((c: { name: string }) => c.name === "default").locks).toEqual([]);
  });

  test("a refused pii request names its class", async () => {
    const lock = await apis[0].admin("POST", `/api/v1/tenants/${SLUG}/lock`, { reason: "pii incident", dataClass: "pii" });
    expect(lock.status, JSON.stringify(lock.body)).toBe(200);
    expect(lock.body.tenant.state).toBe("active");
    expect(lock.body.classes).toContainEqual(expect.objectContaining({ name: "pii", state: "locked", lockSource: "kill_switch" }));
    await allAnswer("pii", 423, "pii refused on both instances after its kill switch");
    const r = await apis[1].decrypt(SLUG, token, items.pii[1]!.ciphertext);
    expect(r.body.error).toMatchObject({ code: "tenant_locked", dataClass: "pii" });
    for (const api of apis) expect((await api.decrypt(SLUG, token, items.default[0]!.ciphertext)).status).toBe(200);
    // A kill switch waits for an explicit unlock, whatever the key says.
    expect(await classState("pii")).toMatchObject({ state: "locked", lockSource: "kill_switch" });
    const unlock = await apis[1].admin("POST", `/api/v1/tenants/${SLUG}/unlock`, { dataClass: "pii" });
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    await allAnswer("pii", 200, "pii served on both instances after its unlock");
    const audit = (await apis[0].admin("GET", `/api/v1/tenants/${SLUG}/audit?action=tenant.lock&limit=5`)).body;
    expect(audit.events[0].detail).toMatchObject({ source: "kill_switch", dataClass: "pii" });
  });

  test("manual resume (a tenant setting) holds a KMS-locked class after its key is back, until its explicit unlock", async () => {
    expect((await apis[0].admin("PUT", `/api/v1/tenants/${SLUG}/settings`, { manualResume: true })).status).toBe(200);
    await h.gcp.setVendorBinding(piiKey, false);
    await poll(async () => (await classState("pii"))?.state === "locked", { what: "pii locked by its probe", timeoutMs: BOUND_MS + 3000 });
    await h.gcp.setVendorBinding(piiKey, true);
    // Probes see the key working again (they go on while the class is KMS-locked) and resume nothing.
    const probed = Date.now();
    await poll(
      async () => {
        const card = (await apis[0].admin("GET", `/api/v1/tenants/${SLUG}/classes/pii`)).body.dataClass;
        return card.key.probe.outcome === "success" && new Date(card.key.probe.lastProbeAt).getTime() > probed;
      },
      { what: "a successful probe of the restored pii key", timeoutMs: 3 * INTERVAL_MS + 2000 },
    );
    expect(await classState("pii")).toMatchObject({ state: "locked", lockSource: "kms" });
    for (const api of apis) expect((await api.decrypt(SLUG, token, items.default[0]!.ciphertext)).status).toBe(200);
    expect((await apis[1].admin("POST", `/api/v1/tenants/${SLUG}/unlock`, { dataClass: "pii" })).status).toBe(200);
    await allAnswer("pii", 200, "pii served after its explicit unlock");
    expect((await apis[0].admin("PUT", `/api/v1/tenants/${SLUG}/settings`, { manualResume: false })).status).toBe(200);
  });

  test("the whole tenant's kill switch locks every class; unlock re-validates each class's key and resumes all", async () => {
    const lock = await apis[1].admin("POST", `/api/v1/tenants/${SLUG}/lock`, { reason: "everything" });
    expect(lock.status, JSON.stringify(lock.body)).toBe(200);
    expect(lock.body.classes.map((c: { state: string }) => c.state)).toEqual(["locked", "locked"]);
    await allAnswer("default", 423, "default refused on both instances");
    await allAnswer("pii", 423, "pii refused on both instances");
    const unlock = await apis[0].admin("POST", `/api/v1/tenants/${SLUG}/unlock`);
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect(unlock.body.classes.map((c: { state: string }) => c.state)).toEqual(["active", "active"]);
    await allAnswer("default", 200, "default served on both instances");
    await allAnswer("pii", 200, "pii served on both instances");
  });
});

describe("class resources", () => {
  test("create (bad names 400, duplicates 409), list, get, remove (409 while it has DEKs, 404 for unknown)", async () => {
    for (const name of ["PII", "1abc", "default", "a b", "x".repeat(33), ""]) {
      const r = await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name });
      expect(r.status, name).toBe(400);
    }
    expect((await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name: "pii" })).status).toBe(409);
    const created = await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name: "billing" });
    expect(created.status).toBe(201);
    expect(created.body.dataClass).toMatchObject({ name: "billing", state: "pending", key: null, secondary: null, coverage: null, deks: { active: 0, total: 0 } });
    const list = await apis[1].admin("GET", `/api/v1/tenants/${SLUG}/classes`);
    expect(list.body.classes.map((c: { name: string }) => c.name)).toEqual(["default", "billing", "pii"]);
    expect(list.body.classes[2].deks.total).toBeGreaterThan(0);
    expect((await h.api.admin("GET", `/api/v1/tenants/${SLUG}/classes/pii`)).body.dataClass.key.provider).toBe("gcp");
    expect((await h.api.admin("GET", `/api/v1/tenants/${SLUG}/classes/nope`)).status).toBe(404);
    const busy = await h.api.admin("DELETE", `/api/v1/tenants/${SLUG}/classes/pii`);
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe("conflict");
    expect((await h.api.admin("DELETE", `/api/v1/tenants/${SLUG}/classes/default`)).status).toBe(409);
    expect((await apis[1].admin("DELETE", `/api/v1/tenants/${SLUG}/classes/billing`)).status).toBe(204);
    expect((await h.api.admin("GET", `/api/v1/tenants/${SLUG}/classes/billing`)).status).toBe(404);
    const audited = async (action: string) =>
      ((await h.api.admin("GET", `/api/v1/tenants/${SLUG}/audit?action=${action}&limit=10`)).body.events as Array<{ detail: unknown }>).map((e) => e.detail);
    expect(await audited("class.create")).toEqual([{ dataClass: "billing" }, { dataClass: "pii" }]);
    expect(await audited("class.remove")).toEqual([{ dataClass: "billing" }]);
  });

  test("a bad class key fails with the same typed validation error as a bad tenant key", async () => {
    await h.api.admin("POST", `/api/v1/tenants/${SLUG}/classes`, { name: "billing" });
    await h.api.createTenant("cls-other");
    // A key the vendor was never granted: the round trip's wrap is refused.
    const ungranted = await h.aws.createKey();
    const asClass = await h.api.admin("PUT", `/api/v1/tenants/${SLUG}/classes/billing/key`, { provider: "aws", keyId: ungranted });
    const asTenant = await h.api.connect("cls-other", "aws", ungranted);
    expect(asTenant.status).toBe(422);
    expect(asClass.status).toBe(asTenant.status);
    expect(asClass.body.error.code).toBe(asTenant.body.error.code);
    expect(asClass.body.error.step).toBe(asTenant.body.error.step);
    expect(asClass.body.error.reason).toBe(asTenant.body.error.reason);
    const bad = await h.api.admin("PUT", `/api/v1/tenants/${SLUG}/classes/billing/key`, { provider: "aws", keyId: "not-an-arn" });
    const badTenant = await h.api.connect("cls-other", "aws", "not-an-arn");
    expect([bad.status, bad.body.error.code]).toEqual([badTenant.status, badTenant.body.error.code]);
    expect((await h.api.admin("GET", `/api/v1/tenants/${SLUG}/classes/billing`)).body.dataClass).toMatchObject({ state: "pending", key: null });
  });

  test("a key switch within pii re-wraps pii's DEKs only, and both instances keep serving", async () => {
    const db = h.runtime.db;
    const before = await db.query<{ id: string; key_connection_id: string; data_class_id: string | null }>(
      `SELECT d.id, d.key_connection_id, d.data_class_id FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1 ORDER BY d.id`,
      [SLUG],
    );
    const newKey = await h.gcp.createKeyForVendor();
    const c = await apis[1].admin("PUT", `/api/v1/tenants/${SLUG}/classes/pii/key`, { provider: "gcp", keyId: newKey });
    expect(c.status, JSON.stringify(c.body)).toBe(200);
    const target = c.body.dataClass.key.id as string;
    await poll(
      async () => {
        const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM data_key d JOIN data_class dc ON dc.id = d.data_class_id WHERE dc.name = 'pii' AND d.key_connection_id <> $1`, [target]);
        return rows[0]!.n === 0;
      },
      { what: "every pii DEK re-wrapped under the new pii key", timeoutMs: 15_000, intervalMs: 100 },
    );
    const after = new Map(
      (await db.query<{ id: string; key_connection_id: string }>(`SELECT d.id, d.key_connection_id FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1`, [SLUG])).map((r) => [r.id, r.key_connection_id]),
    );
    const defaults = before.filter((d) => d.data_class_id === null);
    expect(defaults.length).toBeGreaterThan(0);
    for (const d of defaults) expect(after.get(d.id), "a default DEK moved").toBe(d.key_connection_id);
    const piiDeks = before.filter((x) => x.data_class_id !== null);
    expect(piiDeks.length).toBeGreaterThan(0);
    for (const d of piiDeks) {
      expect(d.key_connection_id).not.toBe(target);
      expect(after.get(d.id)).toBe(target);
    }
    for (const api of apis) {
      for (const cls of ["default", "pii"] as const) {
        for (const it of items[cls]) {
          const r = await api.decrypt(SLUG, token, it.ciphertext);
          expect(r.status, `${cls} on ${api.baseUrl}`).toBe(200);
          expect(Buffer.from(r.body.plaintext, "base64").toString()).toBe(it.plaintext);
        }
      }
    }
  });
});
