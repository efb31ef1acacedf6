// A key switch meets the tenant's KMS mid-way: the key being left is revoked (lock with reason
// retiring_key_revoked while DEKs depend on it, resume when it answers again, no effect once
// nothing does), the tenant cancels (back to the earlier key, nothing lost), the KMS throttles
// (the job backs off, never locks, finishes). Real SDKs, AWS emulator, PostgreSQL.
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import { awsKeyWithReEncrypt, decryptAll, lifecycle, recordsOnDistinctDeks, waitForJob } from "./helpers";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_REWRAP_SWEEP_MS: "100", BROKER_REWRAP_BATCH_SIZE: "2", BROKER_DEK_CACHE_TTL_MS: "300", BROKER_PROBE_INTERVAL_MS: "300" });
}, 60_000);

afterEach(() => h.emulators.aws.faults.clear());

afterAll(async () => {
  await h?.close();
});

/** A tenant on key A with `n` DEKs, switched to key B with the job slowed down (each ReEncrypt waits), waited until `done` DEKs moved. */
async function switchSlowly(slug: string, n: number, done: number) {
  const a = await awsKeyWithReEncrypt(h.aws);
  const b = await awsKeyWithReEncrypt(h.aws);
  const token = await h.api.readyTenant(slug, "aws", a);
  const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, n);
  h.emulators.aws.faults.set({ latencyMs: 150, operations: ["ReEncrypt"] });
  expect((await h.api.connect(slug, "aws", b)).status).toBe(200);
  await waitFor(async () => (await lifecycle(h.api, slug)).job?.rewrapped >= done, { what: `${done} DEKs moved`, timeoutMs: 30_000 });
  const tenantId = (await h.runtime.ctx.registry.load({ slug }))!.id;
  return { a, b, token, records, tenantId };
}

const stateOf = async (slug: string) => (await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant;

test("revoking the key being left mid-migration locks (retiring_key_revoked) while DEKs depend on it; it resumes when the key answers; afterwards revoking it does nothing", async () => {
  const slug = "retiring-revoked";
  const { a, token, records, tenantId } = await switchSlowly(slug, 8, 2);
  await h.aws.disable(a);
  await waitFor(async () => (await stateOf(slug)).lockReason === "retiring_key_revoked", { what: "the retiring_key_revoked lock", timeoutMs: 20_000 });
  const paused = await waitForJob(h.api, slug, "paused", "the job to pause", 20_000, (l) => l.job.pauseCause === "retiring_key_revoked");
  const [newKey, oldKey] = paused.keys;
  expect(oldKey).toMatchObject({ keyRef: a, status: "retiring", safeToRevoke: false });
  expect(oldKey.deks).toBeGreaterThan(0);
  expect(newKey.deks).toBeGreaterThan(0);
  expect((await h.api.decrypt(slug, token, records[0]!.ciphertext)).status).toBe(423);
  // The prober finds the connected key fine, but that does not lift this lock.
  const lockedAt = Date.now();
  await waitFor(async () => {
    const rows = await h.runtime.db.query<{ last_probe_at: Date }>(`SELECT last_probe_at FROM key_connection WHERE tenant_id = $1 AND status = 'connected'`, [tenantId]);
    return rows[0] && new Date(rows[0].last_probe_at).getTime() > lockedAt + 300;
  }, { what: "a probe of the connected key after the lock", timeoutMs: 20_000 });
  expect((await stateOf(slug)).state).toBe("locked");

  h.emulators.aws.faults.clear();
  await h.aws.enable(a);
  const done = await waitForJob(h.api, slug, "completed", "the job to finish once the key answers", 60_000);
  expect(done.job.failed).toBe(0);
  expect(done.keys[1]).toMatchObject({ keyRef: a, status: "replaced", deks: 0, safeToRevoke: true });
  expect((await stateOf(slug)).state).toBe("active");

  await h.aws.disable(a);
  h.runtime.ctx.cache.dropTenant(tenantId);
  expect(await decryptAll([h.api], slug, token, records)).toEqual(records.map(() => 200));
  expect((await stateOf(slug)).state).toBe("active");
}, 120_000);

test("cancel mid-migration returns to the earlier key; DEKs made under the new key are moved back; the cancelled key is then not needed", async () => {
  const slug = "switch-cancel";
  const { a, b, token, records, tenantId } = await switchSlowly(slug, 6, 2);
  const during = await h.api.encrypt(slug, token, "written under the new key");
  expect(during.status).toBe(200);
  const cancelled = await h.api.admin("POST", `/api/v1/tenants/${slug}/lifecycle/cancel`);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.keys[0]).toMatchObject({ keyRef: a, status: "connected" });
  expect(cancelled.body.keys.find((k: { keyRef: string }) => k.keyRef === b)).toMatchObject({ status: "retiring" });
  expect(cancelled.body.job).toMatchObject({ cause: "cancel_switch" });
  h.emulators.aws.faults.clear();

  const back = await waitForJob(h.api, slug, "completed", "the way back to complete", 60_000);
  expect(back.job.cause).toBe("cancel_switch");
  expect(back.keys[0]).toMatchObject({ keyRef: a, status: "connected", deks: back.totalDeks });
  expect(back.keys.find((k: { keyRef: string }) => k.keyRef === b)).toMatchObject({ status: "replaced", deks: 0, safeToRevoke: true });

  await h.aws.disable(b);
  h.runtime.ctx.cache.dropTenant(tenantId);
  const all = [...records, { ciphertext: during.body.ciphertext, plaintext: "written under the new key" }];
  expect(await decryptAll([h.api], slug, token, all)).toEqual(all.map(() => 200));
  expect((await stateOf(slug)).state).toBe("active");
  const audit = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=500`);
  expect((audit.body.events as Array<{ action: string }>).some((e) => e.action === "rewrap.cancel")).toBe(true);
}, 120_000);

test("throttling during the job: it pauses and backs off (kms_throttled), never locks, and finishes", async () => {
  const slug = "switch-throttled";
  const a = await awsKeyWithReEncrypt(h.aws);
  const token = await h.api.readyTenant(slug, "aws", a);
  const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, 5);
  h.emulators.aws.faults.set({ error: "throttle", operations: ["ReEncrypt"] });
  expect((await h.api.connect(slug, "aws", await awsKeyWithReEncrypt(h.aws))).status).toBe(200);
  await waitForJob(h.api, slug, "paused", "the job to pause on throttling", 20_000, (l) => l.job.pauseCause === "kms_throttled");
  h.emulators.aws.faults.clear();
  const done = await waitForJob(h.api, slug, "completed", "the job to finish after throttling", 60_000);
  expect(done.job).toMatchObject({ rewrapped: 5, failed: 0 });
  const audit = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=500`);
  const events = audit.body.events as Array<{ action: string; reason: string | null }>;
  expect(events.some((e) => e.action === "rewrap.pause" && e.reason === "kms_throttled")).toBe(true);
  expect(events.some((e) => e.action === "tenant.lock")).toBe(false);
  expect((await stateOf(slug)).state).toBe("active");
  expect(await decryptAll([h.api], slug, token, records)).toEqual(records.map(() => 200));
}, 120_000);
