// Every revocation kind of every provider, done by the tenant through the provider's real SDK
// against the emulators, while every DEK of the tenant is still cached (long TTL), so only the
// prober can notice. Bound from the issue: locked, and requests refused with 423, within
// probe interval + 1 s of the revocation call; no request sent after the lock took effect
// succeeds; restoring the key resumes within interval + 1 s and old ciphertexts decrypt again.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { activityReported, DecryptStream, encryptMany, printTable, sleep, waitFor } from "./helpers";
import { waitFor as poll } from "../support/wait";

const INTERVAL_MS = 1000;
const BOUND_MS = INTERVAL_MS + 1000;

let h: Harness;
const lockRows: Array<Record<string, string | number | null>> = [];
const resumeRows: Array<Record<string, string | number | null>> = [];

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS), BROKER_DEK_CACHE_TTL_MS: "600000" });
});
afterAll(async () => {
  printTable(`time-to-lock (probe interval ${INTERVAL_MS} ms, every DEK cached; ms from the start of the revocation call)`, lockRows);
  printTable(`time-to-resume (ms from the start of the restoring call to the first 200)`, resumeRows);
  await h?.close();
});

interface Case {
  provider: "aws" | "azure" | "gcp";
  kind: string;
  setup(): Promise<{ keyId: string; revoke(): Promise<unknown>; restore(): Promise<unknown> }>;
}

const cases: Case[] = [
  {
    provider: "aws",
    kind: "DisableKey",
    async setup() {
      const { keyArn } = await h.aws.createKeyForVendor();
      return { keyId: keyArn, revoke: () => h.aws.disable(keyArn), restore: () => h.aws.enable(keyArn) };
    },
  },
  {
    provider: "aws",
    kind: "ScheduleKeyDeletion",
    async setup() {
      const { keyArn } = await h.aws.createKeyForVendor();
      return {
        keyId: keyArn,
        revoke: () => h.aws.scheduleDeletion(keyArn),
        restore: async () => {
          await h.aws.cancelDeletion(keyArn);
          await h.aws.enable(keyArn);
        },
      };
    },
  },
  {
    provider: "aws",
    kind: "RevokeGrant",
    async setup() {
      const { keyArn, grantId } = await h.aws.createKeyForVendor();
      return { keyId: keyArn, revoke: () => h.aws.revokeGrant(keyArn, grantId), restore: () => h.aws.grantVendor(keyArn) };
    },
  },
  {
    provider: "azure",
    kind: "disable",
    async setup() {
      const uri = await h.azure.createKeyForVendor("RSA");
      return { keyId: uri, revoke: () => h.azure.setEnabled(uri, false), restore: () => h.azure.setEnabled(uri, true) };
    },
  },
  {
    provider: "azure",
    kind: "delete",
    async setup() {
      const uri = await h.azure.createKeyForVendor("RSA");
      return { keyId: uri, revoke: () => h.azure.delete(uri), restore: () => h.azure.recover(uri) };
    },
  },
  {
    provider: "azure",
    kind: "access removal",
    async setup() {
      const uri = await h.azure.createKeyForVendor("RSA");
      return { keyId: uri, revoke: () => h.azure.setVendorAccess(uri, false), restore: () => h.azure.setVendorAccess(uri, true) };
    },
  },
  {
    provider: "gcp",
    kind: "version disabled",
    async setup() {
      const name = await h.gcp.createKeyForVendor();
      return { keyId: name, revoke: () => h.gcp.setVersionState(name, "DISABLED"), restore: () => h.gcp.setVersionState(name, "ENABLED") };
    },
  },
  {
    provider: "gcp",
    kind: "version destroyed",
    async setup() {
      const name = await h.gcp.createKeyForVendor();
      return {
        keyId: name,
        revoke: () => h.gcp.destroyVersion(name),
        restore: async () => {
          await h.gcp.restoreVersion(name);
          await h.gcp.setVersionState(name, "ENABLED");
        },
      };
    },
  },
  {
    provider: "gcp",
    kind: "IAM binding removed",
    async setup() {
      const name = await h.gcp.createKeyForVendor();
      return { keyId: name, revoke: () => h.gcp.setVendorBinding(name, false), restore: () => h.gcp.setVendorBinding(name, true) };
    },
  },
];

const status = async (slug: string) => (await h.api.admin("GET", `/api/v1/tenants/${slug}/status`)).body;
const ms = (iso: string | null | undefined, from: number) => (iso ? new Date(iso).getTime() - from : null);

// The nine cases run side by side (they are independent tenants), which keeps the suite short
// and puts the prober under some load; each case measures its own timings.
describe.concurrent("revocation locks within probe interval + 1 s and resumes when restored", () => {
  test.each(cases)("$provider: $kind", async (c) => {
    const slug = `rev-${c.provider}-${c.kind.toLowerCase().replace(/[^a-z]+/g, "-")}`;
    const key = await c.setup();
    const token = await h.api.readyTenant(slug, c.provider, key.keyId);
    const items = await encryptMany(h.api, slug, token, 4);
    // The prober must see the tenant as active (it reports cached tenants once per interval).
    await activityReported(h.runtime.db, slug);
    expect(h.runtime.ctx.cache.countForTenant((await h.runtime.ctx.registry.getBySlug(slug))!.id)).toBeGreaterThan(0);

    // Two requests in flight with a 5 ms pause each: ~150-300 req/s per tenant. Without the pause
    // the nine load loops, which share the broker's event loop in this process, would saturate it
    // and we would be measuring the load generator instead of the prober.
    const stream = new DecryptStream(h.api, slug, token, items, 2, 5).start();
    await poll(() => stream.samples.some((s) => s.status === 200), { what: `decrypts of ${slug} served before the revocation` });
    const revokeStart = Date.now();
    await key.revoke();
    const revokeEnd = Date.now();
    const refused = await waitFor(() => Promise.resolve(stream.first((s) => s.status === 423 && s.sent >= revokeStart)), BOUND_MS + 3000);
    // Keep the load on until requests sent after the first refusal were answered: they are checked below.
    if (refused) await poll(() => stream.samples.filter((s) => s.sent >= refused.recv).length >= 4, { what: `requests to ${slug} sent after its first 423` });
    const samples = await stream.stop();

    const st = await status(slug);
    expect(st.state).toBe("locked");
    expect(st.lockSource).toBe("kms");
    expect(st.reason).toMatch(new RegExp(`^kms:${c.provider}:`));
    const effectiveAt = new Date(st.lastLock.effectiveAt).getTime();
    const okAfterLock = samples.filter((s) => s.sent > effectiveAt && s.status === 200).length;
    const overlapping = samples.filter((s) => s.sent <= effectiveAt && s.recv > effectiveAt && s.status === 200).length;
    const otherStatuses = samples.filter((s) => s.status !== 200 && s.status !== 423).length;
    lockRows.push({
      provider: c.provider,
      revocation: c.kind,
      "call ms": revokeEnd - revokeStart,
      "detected ms": ms(st.lastLock.detectedAt, revokeStart),
      "lock effective ms": ms(st.lastLock.effectiveAt, revokeStart),
      "first 423 ms": refused ? refused.recv - revokeStart : null,
      reason: st.reason,
      requests: samples.length,
      "ok after lock": okAfterLock,
      "in flight at lock": overlapping,
    });

    expect(refused, "no 423 within the bound").toBeDefined();
    expect(refused!.recv - revokeStart).toBeLessThanOrEqual(BOUND_MS);
    expect(effectiveAt - revokeStart).toBeLessThanOrEqual(BOUND_MS);
    expect(okAfterLock).toBe(0);
    expect(otherStatuses).toBe(0);
    expect(samples.every((s) => s.status !== 200 || s.plaintextOk)).toBe(true);
    // After the first refusal, nothing is served any more.
    expect(samples.filter((s) => s.sent >= refused!.recv && s.status !== 423)).toEqual([]);

    const restoreStart = Date.now();
    await key.restore();
    const resumed = await waitFor(async () => {
      const r = await h.api.decrypt(slug, token, items[0]!.ciphertext);
      return r.status === 200 ? Date.now() : undefined;
    }, BOUND_MS + 3000);
    const after = await status(slug);
    resumeRows.push({
      provider: c.provider,
      revocation: c.kind,
      "first 200 ms": resumed ? resumed - restoreStart : null,
      state: after.state,
    });
    expect(resumed, "not resumed within the bound").toBeDefined();
    expect(resumed! - restoreStart).toBeLessThanOrEqual(BOUND_MS);
    expect(after.state).toBe("active");
    for (const it of items) {
      const r = await h.api.decrypt(slug, token, it.ciphertext);
      expect(r.status).toBe(200);
      expect(Buffer.from(r.body.plaintext, "base64").toString()).toBe(it.plaintext);
    }
  });
});

describe("resume policy", () => {
  test("manual resume: a restored key does not resume the tenant until POST /unlock", async () => {
    const slug = "rev-manual";
    const { keyArn } = await h.aws.createKeyForVendor();
    const token = await h.api.readyTenant(slug, "aws", keyArn);
    const [item] = await encryptMany(h.api, slug, token, 1);
    const set = await h.api.admin("PUT", `/api/v1/tenants/${slug}/settings`, { manualResume: true });
    expect(set.status).toBe(200);
    await activityReported(h.runtime.db, slug);
    await h.aws.disable(keyArn);
    expect(await waitFor(async () => (await status(slug)).state === "locked", BOUND_MS + 2000)).toBe(true);
    await h.aws.enable(keyArn);
    const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
    const restoredAt = new Date();
    // The prober keeps probing the KMS-locked key and sees it working, but does not resume.
    const probedOk = await waitFor(async () => {
      const kc = await h.runtime.ctx.db.prisma.keyConnection.findFirst({ where: { tenantId, status: "connected" } });
      return kc?.lastProbeOutcome === "success" && kc.lastProbeAt! > restoredAt;
    }, 3 * INTERVAL_MS + 1000);
    expect(probedOk).toBe(true);
    // One more successful probe after that one: had a working key resumed the tenant, it would have by now.
    const firstOk = (await h.runtime.db.prisma.keyConnection.findFirst({ where: { tenantId, status: "connected" } }))!.lastProbeAt!;
    await poll(async () => {
      const kc = await h.runtime.db.prisma.keyConnection.findFirst({ where: { tenantId, status: "connected" } });
      return kc?.lastProbeOutcome === "success" && kc.lastProbeAt! > firstOk;
    }, { what: "a second successful probe of the restored key", timeoutMs: 3 * INTERVAL_MS + 1000 });
    expect((await status(slug)).state).toBe("locked");
    expect((await h.api.decrypt(slug, token, item!.ciphertext)).status).toBe(423);
    const unlock = await h.api.admin("POST", `/api/v1/tenants/${slug}/unlock`);
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect(unlock.body.tenant.state).toBe("active");
    const dec = await h.api.decrypt(slug, token, item!.ciphertext);
    expect(dec.status).toBe(200);
  });

  test("kill switch stays locked whatever the KMS says, until unlock; it also overrides a KMS lock", async () => {
    const slug = "rev-kill";
    const uri = await h.gcp.createKeyForVendor();
    const token = await h.api.readyTenant(slug, "gcp", uri);
    const [item] = await encryptMany(h.api, slug, token, 1);
    await activityReported(h.runtime.db, slug);
    const lock = await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: "incident 42" });
    expect(lock.status).toBe(200);
    expect((await h.api.decrypt(slug, token, item!.ciphertext)).status).toBe(423);
    // The key works all along; a kill switch is not the prober's to lift. An absence check: three
    // probe intervals, in which a prober that lifted kill switches would have done so.
    await sleep(3 * INTERVAL_MS);
    let st = await status(slug);
    expect(st.state).toBe("locked");
    expect(st.lockSource).toBe("kill_switch");

    // Unlock, let the KMS lock it, then pull the kill switch on top: restoring the key changes nothing.
    expect((await h.api.admin("POST", `/api/v1/tenants/${slug}/unlock`)).status).toBe(200);
    const warmedAt = new Date();
    expect((await h.api.encrypt(slug, token, "warm")).status).toBe(200);
    await activityReported(h.runtime.db, slug, warmedAt);
    await h.gcp.setVendorBinding(uri, false);
    expect(await waitFor(async () => (await status(slug)).lockSource === "kms", BOUND_MS + 2000)).toBe(true);
    expect((await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: "belt and braces" })).status).toBe(200);
    await h.gcp.setVendorBinding(uri, true);
    // An absence check, as above: three probe intervals in which the restored key must not lift the kill switch.
    await sleep(3 * INTERVAL_MS);
    st = await status(slug);
    expect(st.state).toBe("locked");
    expect(st.lockSource).toBe("kill_switch");
    expect((await h.api.decrypt(slug, token, item!.ciphertext)).status).toBe(423);
    const unlock = await h.api.admin("POST", `/api/v1/tenants/${slug}/unlock`);
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect((await h.api.decrypt(slug, token, item!.ciphertext)).status).toBe(200);
  });
});
