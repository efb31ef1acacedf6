// Secondary keys (issue 12), end to end on one broker against the real emulators and PostgreSQL:
//   (d) adding a secondary (GCP) to a class (primary AWS) with existing DEKs re-wraps them all
//       under steady load with zero failed requests;
//   (a) black-holing the primary's emulator under decrypt load with cold DEKs: requests keep
//       succeeding through the secondary (0 failures after the hedge budget), the audit entries
//       name the secondary, health and metrics show the failover;
//   (f) a failover drill reports what the secondary unwrapped;
//   (e) removing the secondary drops its wrapped forms;
//   (b) revoking the primary locks the class: no fallback to the secondary;
//   (c) revoking only the secondary of a class (pii) locks that class too, the default class keeps
//       serving, and pii resumes once both of its keys work again;
//   (g) a class locked mid add_secondary pauses the job (tenant_locked) instead of asking its keys.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import { recordsOnDistinctDeks, SteadyLoad, waitForJob, type Record_ } from "../lifecycle/helpers";

const HEDGE_MS = 300;
const TTL_MS = 100;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    BROKER_DEK_CACHE_TTL_MS: String(TTL_MS),
    BROKER_FAILOVER_HEDGE_MS: String(HEDGE_MS),
    BROKER_KMS_TIMEOUT_MS: "1000",
    BROKER_REWRAP_SWEEP_MS: "200",
    BROKER_REWRAP_TENANT_RATE: "0",
    BROKER_REWRAP_PROVIDER_RATE: "0",
    BROKER_REWRAP_BATCH_SIZE: "4",
    BROKER_PROBE_INTERVAL_MS: "60000",
  });
});
afterAll(async () => {
  h?.emulators.aws.faults.clear();
  await h?.close();
});

async function tenantWithSecondary(slug: string, records: number, opts: { connect?: boolean } = {}) {
  const primary = await h.aws.createKeyForVendor();
  const token = await h.api.readyTenant(slug, "aws", primary.keyArn);
  const recs = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, records);
  const secondaryKey = await h.gcp.createKeyForVendor();
  const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
  const connect = () => h.api.admin("PUT", `/api/v1/tenants/${slug}/classes/default/secondary-key`, { provider: "gcp", keyId: secondaryKey });
  if (opts.connect !== false) {
    const r = await connect();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await waitForCoverage(tenantId, records);
  }
  return { slug, token, tenantId, primary, secondaryKey, records: recs, connect };
}

async function missingForms(tenantId: string): Promise<{ deks: number; wrapped: number }> {
  const [r] = await h.runtime.db.query<{ deks: number; wrapped: number }>(
    `SELECT (SELECT count(*)::int FROM data_key WHERE tenant_id = $1) AS deks, (SELECT count(*)::int FROM data_key_wrap WHERE tenant_id = $1) AS wrapped`,
    [tenantId],
  );
  return r!;
}

const waitForCoverage = (tenantId: string, atLeast: number) =>
  waitFor(
    async () => {
      const m = await missingForms(tenantId);
      return m.wrapped >= atLeast && m.wrapped === m.deks ? m : null;
    },
    { what: "every DEK wrapped under the secondary", timeoutMs: 20_000, intervalMs: 50 },
  );

async function decryptLoop(slug: string, token: string, records: Record_[], until: () => boolean) {
  const samples: { start: number; ok: boolean; status: number }[] = [];
  const worker = async (offset: number) => {
    for (let i = offset; !until(); i += 2) {
      const rec = records[i % records.length]!;
      const start = Date.now();
      const r = await h.api.decrypt(slug, token, rec.ciphertext);
      samples.push({ start, ok: r.status === 200 && Buffer.from(r.body.plaintext, "base64").toString() === rec.plaintext, status: r.status });
    }
  };
  await Promise.all([worker(0), worker(1)]);
  return samples;
}

let failoverTenant: Awaited<ReturnType<typeof tenantWithSecondary>>;

test("(d) adding a secondary to a class with existing DEKs re-wraps them all under load, with zero failed requests", async () => {
  const t = await tenantWithSecondary("sec-main", 12, { connect: false });
  failoverTenant = t;
  const load = new SteadyLoad([h.api], t.slug, t.token, t.records).start(2);
  const r = await t.connect();
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.dataClass.secondary).toMatchObject({ provider: "gcp", keyId: t.secondaryKey, role: "secondary" });
  const covered = await waitForCoverage(t.tenantId, 12);
  await load.stop();
  expect(load.failures).toEqual([]);
  expect(load.ok).toBeGreaterThan(0);
  const card = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/classes/default`);
  expect(card.body.dataClass.coverage).toMatchObject({ deks: covered.deks, wrapped: covered.deks });
  console.log(`add_secondary: ${covered.deks} DEKs wrapped under the secondary under load; ${load.ok} requests, 0 failed`);
});

test("(a) primary black-holed under decrypt load with cold DEKs: requests keep succeeding through the secondary; audit, health and metrics say so", async () => {
  const t = failoverTenant;
  const since = new Date();
  h.emulators.aws.faults.set({ error: "blackhole" });
  const blackholeAt = Date.now();
  // Past the cache TTL every DEK is cold: each miss must be served by the secondary.
  const samples = await decryptLoop(t.slug, t.token, t.records, () => Date.now() - blackholeAt > 3000);
  h.emulators.aws.faults.clear();
  const afterBudget = samples.filter((s) => s.start > blackholeAt + HEDGE_MS);
  const failures = afterBudget.filter((s) => !s.ok);
  console.log(`primary black-holed: ${samples.length} decrypts, ${samples.filter((s) => !s.ok).length} failed in all, ${failures.length} failed after the hedge budget`);
  expect(afterBudget.length).toBeGreaterThan(20);
  expect(failures).toEqual([]);
  const entries = await h.runtime.db.query<{ provider: string; key_ref: string; detail: { keyRole?: string; failover?: string } | null }>(
    `SELECT provider, key_ref, detail FROM audit_event WHERE tenant_id = $1 AND action = 'kms.unwrap' AND outcome = 'success' AND time >= $2`,
    [t.tenantId, since],
  );
  const viaSecondary = entries.filter((e) => e.detail?.keyRole === "secondary" && e.detail.failover === "hedge");
  expect(viaSecondary.length).toBeGreaterThan(0);
  expect(viaSecondary.every((e) => e.provider === "gcp" && e.key_ref === t.secondaryKey)).toBe(true);
  const card = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/classes/default`);
  expect(card.body.dataClass.failover).toMatchObject({ active: true });
  expect(card.body.dataClass.failover.count).toBeGreaterThan(0);
  const health = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/health`);
  expect(health.status).toBe(200);
  const healthCard = (health.body.classes as Array<{ name: string; failover: unknown }>).find((c) => c.name === "default");
  expect(healthCard?.failover).toMatchObject({ active: true });
  const metrics = await fetch(`${h.runtime.url}/api/metrics`).then((r) => r.text());
  expect(metrics).toMatch(/cmek_failover_unwraps_total\{provider="gcp"\} [1-9]/);
  // The outage was never a revocation.
  expect((await h.runtime.ctx.registry.load({ id: t.tenantId }))!.state).toBe("active");
});

test("(f) a failover drill forces unwraps through the secondary and reports them", async () => {
  const t = failoverTenant;
  const r = await h.api.admin("POST", `/api/v1/tenants/${t.slug}/classes/default/failover-drill`, { seconds: 1 });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body).toMatchObject({ dataClass: "default", ok: true, secondary: { provider: "gcp", keyId: t.secondaryKey } });
  expect(r.body.unwraps.succeeded).toBeGreaterThanOrEqual(12);
  expect(r.body.unwraps.failed).toBe(0);
  const [entry] = await h.runtime.db.query(`SELECT outcome FROM audit_event WHERE tenant_id = $1 AND action = 'failover.drill'`, [t.tenantId]);
  expect(entry).toMatchObject({ outcome: "success" });
});

test("(e) removing the secondary drops its wrapped forms; the class serves from its primary", async () => {
  const t = failoverTenant;
  const r = await h.api.admin("DELETE", `/api/v1/tenants/${t.slug}/classes/default/secondary-key`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.dataClass.secondary).toBeNull();
  expect((await missingForms(t.tenantId)).wrapped).toBe(0);
  // The primary's circuit may still be open from the black hole: wait for it to serve again.
  await waitFor(async () => (await h.api.decrypt(t.slug, t.token, t.records[0]!.ciphertext)).status === 200, { what: "a decrypt through the primary alone", timeoutMs: 10_000, intervalMs: 100 });
  const [entry] = await h.runtime.db.query<{ detail: { forms: number } }>(`SELECT detail FROM audit_event WHERE tenant_id = $1 AND action = 'secondary.remove'`, [t.tenantId]);
  expect(entry!.detail.forms).toBeGreaterThanOrEqual(12);
  expect((await h.api.admin("DELETE", `/api/v1/tenants/${t.slug}/classes/default/secondary-key`)).status).toBe(404);
});

test("(b) revoking the primary locks the class: the secondary is not used to paper over it", async () => {
  const t = await tenantWithSecondary("sec-revoke-primary", 3);
  await h.aws.disable(t.primary.keyArn);
  const since = new Date();
  h.runtime.ctx.cache.dropTenant(t.tenantId); // cold DEKs: the next decrypt must ask the KMS
  const r = await h.api.decrypt(t.slug, t.token, t.records[0]!.ciphertext);
  expect(r.status, JSON.stringify(r.body)).toBe(423);
  const view = (await h.runtime.ctx.registry.load({ id: t.tenantId }))!;
  expect(view.state).toBe("locked");
  expect(view.lockReason).toMatch(/^kms:aws:/);
  const served = await h.runtime.db.query(`SELECT 1 FROM audit_event WHERE tenant_id = $1 AND action = 'decrypt' AND outcome = 'success' AND time >= $2`, [t.tenantId, since]);
  expect(served).toHaveLength(0);
});

test("(c) revoking only the secondary of class pii locks pii; default keeps serving; granted again, pii resumes", async () => {
  const slug = "sec-revoke-secondary";
  const token = await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
  expect((await h.api.admin("POST", `/api/v1/tenants/${slug}/classes`, { name: "pii" })).status).toBe(201);
  const piiKey = await h.aws.createKeyForVendor();
  const pk = await h.api.admin("PUT", `/api/v1/tenants/${slug}/classes/pii/key`, { provider: "aws", keyId: piiKey.keyArn });
  expect(pk.status, JSON.stringify(pk.body)).toBe(200);
  const encryptPii = () => h.api.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: Buffer.from("pii record").toString("base64"), dataClass: "pii" } });
  const piiRecord = (await encryptPii()).body.ciphertext as string;
  const defaultRecord = (await h.api.encrypt(slug, token, "default record")).body.ciphertext as string;
  const secondaryKey = await h.gcp.createKeyForVendor();
  const sk = await h.api.admin("PUT", `/api/v1/tenants/${slug}/classes/pii/secondary-key`, { provider: "gcp", keyId: secondaryKey });
  expect(sk.status, JSON.stringify(sk.body)).toBe(200);
  const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
  // Only pii's DEK gets a secondary form (default has no secondary).
  const forms = await waitFor(
    async () => {
      const [r] = await h.runtime.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM data_key_wrap w JOIN data_key d ON d.id = w.dek_id WHERE w.tenant_id = $1 AND d.data_class_id IS NOT NULL`, [tenantId]);
      return r!.n > 0 ? r!.n : null;
    },
    { what: "pii's DEK wrapped under its secondary", timeoutMs: 10_000, intervalMs: 50 },
  );
  expect(forms).toBe(1);
  expect((await h.runtime.db.query(`SELECT 1 FROM data_key_wrap w JOIN data_key d ON d.id = w.dek_id WHERE w.tenant_id = $1 AND d.data_class_id IS NULL`, [tenantId])).length).toBe(0);

  await h.gcp.setVendorBinding(secondaryKey, false);
  const view = (await h.runtime.ctx.registry.load({ id: tenantId }))!;
  const secondaryId = view.classes.get("pii")!.secondary!.connectionId;
  const result = await h.runtime.ctx.prober.probeNow(tenantId, { connectionId: secondaryId });
  expect(result.outcome).toBe("revoked");
  const pii = (await h.runtime.ctx.registry.load({ id: tenantId }))!.classes.get("pii")!;
  expect(pii.state).toBe("locked");
  expect(pii.lockReason).toMatch(/^kms:gcp:/);
  const refused = await h.api.decrypt(slug, token, piiRecord);
  expect(refused.status).toBe(423);
  expect(refused.body.error.dataClass).toBe("pii");
  expect((await h.api.decrypt(slug, token, defaultRecord)).status).toBe(200);
  // pii's primary still works, but pii stays locked while its secondary is revoked (no resume-and-relock flapping).
  const primaryProbe = await h.runtime.ctx.prober.probeNow(tenantId, { connectionId: pii.key!.connectionId });
  expect(primaryProbe.outcome).not.toBe("resumed");
  // Granted again: the secondary's probe resumes pii (both keys pass a round trip).
  await h.gcp.setVendorBinding(secondaryKey, true);
  const back = await h.runtime.ctx.prober.probeNow(tenantId, { connectionId: secondaryId });
  expect(back.outcome).toBe("resumed");
  expect((await h.api.decrypt(slug, token, piiRecord)).status).toBe(200);
});

test("(g) a class locked while its secondary is being added pauses the job (tenant_locked) without asking its keys; unlocked, the job finishes", async () => {
  const t = await tenantWithSecondary("sec-locked-mid-job", 12, { connect: false });
  const keyName = t.secondaryKey.split("/").pop()!;
  const secondaryCalls = () => Object.entries(h.emulators.gcp.calls.snapshot().byKey).reduce((n, [k, v]) => (k.endsWith(`/${keyName}`) || k.endsWith(` ${keyName}`) ? n + v : n), 0);
  // Slow secondary calls: the job is still on its first batches when the kill switch hits.
  h.emulators.gcp.faults.set({ latencyMs: 100 });
  try {
    expect((await t.connect()).status).toBe(200);
    await waitFor(async () => ((await missingForms(t.tenantId)).wrapped >= 2 ? true : null), { what: "the job under way", timeoutMs: 10_000, intervalMs: 20 });
    const lock = await h.api.admin("POST", `/api/v1/tenants/${t.slug}/lock`, { reason: "incident during add_secondary" });
    expect(lock.status, JSON.stringify(lock.body)).toBe(200);
    await waitForJob(h.api, t.slug, "paused", "the add_secondary job paused by the lock", 10_000, (l) => l.job.pauseCause === "tenant_locked");
    // The DEK in flight at the lock may finish; after the pause the locked class's keys are not asked again.
    const callsAtPause = secondaryCalls();
    expect(callsAtPause).toBeGreaterThan(0);
    const wrappedAtPause = (await missingForms(t.tenantId)).wrapped;
    await new Promise((r) => setTimeout(r, 1000));
    expect(secondaryCalls()).toBe(callsAtPause);
    expect((await missingForms(t.tenantId)).wrapped).toBe(wrappedAtPause);
    expect(wrappedAtPause).toBeLessThan(12);
  } finally {
    h.emulators.gcp.faults.clear();
  }
  const unlock = await h.api.admin("POST", `/api/v1/tenants/${t.slug}/unlock`);
  expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
  await waitForCoverage(t.tenantId, 12);
  await waitForJob(h.api, t.slug, "completed", "the add_secondary job completed after the unlock", 20_000);
});
