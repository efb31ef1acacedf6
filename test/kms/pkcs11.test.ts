// The PKCS#11 provider against SoftHSM2 (a real PKCS#11 module, from Debian), through the
// broker's API: connect -> validate -> encrypt -> decrypt; the tenant's revocations on its own
// token (key destroyed, CKA_DECRYPT cleared, PIN changed) lock within probe interval + 1 s while
// every DEK is cached; the token store vanishing is an outage (no lock); a cold DEK unwrapped by
// many concurrent decrypts costs one C_Decrypt.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Pkcs11KmsProvider } from "@/lib/kms/pkcs11/provider";
import { SoftHsm } from "@/testkit/softhsm";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor as poll } from "../support/wait";
import { activityReported, encryptMany, printTable, sleep, waitFor } from "../revocation/helpers";

const INTERVAL_MS = 1000;
const BOUND_MS = INTERVAL_MS + 1000;

let h: Harness;
let hsm: SoftHsm;
const lockRows: Array<Record<string, string | number | null>> = [];

beforeAll(async () => {
  hsm = new SoftHsm();
  // SoftHSM2 reads SOFTHSM2_CONF when the broker first initialises the module, in this process.
  process.env.SOFTHSM2_CONF = hsm.conf;
  h = await startHarness({ ...hsm.brokerEnv(), BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS), BROKER_DEK_CACHE_TTL_MS: "600000" });
});
afterAll(async () => {
  printTable(`PKCS#11 (SoftHSM2) time-to-lock (probe interval ${INTERVAL_MS} ms, every DEK cached; ms from the revocation)`, lockRows);
  await h?.close();
  hsm?.close();
});

const provider = () => h.runtime.ctx.providers.pkcs11 as Pkcs11KmsProvider;
const status = async (slug: string) => (await h.api.admin("GET", `/api/v1/tenants/${slug}/status`)).body;

describe("PKCS#11 through the broker API", () => {
  test("connect validates with a real round trip, then encrypt and decrypt; audit names provider and object id", async () => {
    const token = hsm.initToken("journey");
    const uri = hsm.createKey(token, "tenant-key", Buffer.from([0xa1, 0x02]));
    await h.api.createTenant("p11-journey");

    // Strict references: a PIN or a module in the URI is refused before anything touches the module.
    for (const bad of [`${uri}?pin-value=1234`, `${uri}?module-path=/tmp/evil.so`, "pkcs11:object=tenant-key", `${uri};slot-id=1`]) {
      const r = await h.api.connect("p11-journey", "pkcs11", bad);
      expect(r.status, `${bad}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.code, bad).toBe("invalid_key_ref");
    }
    // A key that is not on the token: the failed step is named.
    const missing = await h.api.connect("p11-journey", "pkcs11", "pkcs11:token=journey;object=nope");
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe("grant_invalid");
    expect(missing.body.error.step).toBe("wrap");
    expect(missing.body.error.reason).toBe("not_found");

    const c = await h.api.connect("p11-journey", "pkcs11", uri);
    expect(c.status, JSON.stringify(c.body)).toBe(200);
    expect(c.body.tenant.state).toBe("active");
    expect(c.body.key.keyId).toBe("pkcs11:token=journey;object=tenant-key");
    expect(c.body.validation.steps.map((s: { step: string }) => s.step)).toEqual(["wrap", "unwrap", "compare"]);

    const svc = await h.api.token("p11-journey");
    const enc = await h.api.encrypt("p11-journey", svc, "on-prem secret", { order: "42" });
    expect(enc.status).toBe(200);
    const dec = await h.api.decrypt("p11-journey", svc, enc.body.ciphertext, { order: "42" });
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("on-prem secret");
    expect((await h.api.decrypt("p11-journey", svc, enc.body.ciphertext, { order: "43" })).status).toBe(422);

    const audit = await h.api.admin("GET", "/api/v1/tenants/p11-journey/audit?limit=50");
    const connect = audit.body.events.find((e: { action: string }) => e.action === "key.connect");
    expect(connect.provider).toBe("pkcs11");
    expect(connect.keyVersion).toBe("a102");

    // The ownership proof the wizard asks for: a data object cmek-broker-tenant=<tenant id> on the token.
    expect(await provider().ownershipTags(c.body.key.keyId)).toEqual({});
    hsm.writeOwnership(token, c.body.tenant.id);
    expect(await provider().ownershipTags(c.body.key.keyId)).toEqual({ "cmek-broker-tenant": c.body.tenant.id });

    // A wrapped DEK changed in the database: SoftHSM2 answers CKR_GENERAL_ERROR, which the provider
    // tells apart from a device fault by a round trip of its own: invalid, not an outage.
    const { wrapped } = await provider().wrap(c.body.key.keyId, Buffer.alloc(32, 1), { tenant: "x" });
    wrapped[wrapped.length - 1]! ^= 1;
    await expect(provider().unwrap(c.body.key.keyId, wrapped, { tenant: "x" })).rejects.toMatchObject({ kind: "invalid" });
  });

  const revocations: Array<{ kind: string; reason: string; revoke: (t: ReturnType<SoftHsm["initToken"]>, label: string) => void }> = [
    { kind: "key object destroyed", reason: "not_found", revoke: (t, label) => hsm.destroyKey(t, label) },
    { kind: "CKA_DECRYPT cleared", reason: "disabled", revoke: (t, label) => hsm.setUsage(t, label, { decrypt: false }) },
    { kind: "PIN changed", reason: "pin_rejected", revoke: (t) => hsm.changePin(t, "tenant-new-pin") },
  ];

  test.each(revocations)("$kind locks within probe interval + 1 s while every DEK is cached", async ({ kind, reason, revoke }) => {
    const slug = `p11-${kind.toLowerCase().replace(/[^a-z]+/g, "-")}`.replace(/-$/, "");
    const token = hsm.initToken(slug.slice(0, 32));
    const uri = hsm.createKey(token, "k");
    const svc = await h.api.readyTenant(slug, "pkcs11", uri);
    const items = await encryptMany(h.api, slug, svc, 3);
    await activityReported(h.runtime.db, slug);
    expect((await h.api.decrypt(slug, svc, items[0]!.ciphertext)).status).toBe(200);

    const t0 = Date.now();
    revoke(token, "k");
    const refusedAt = await waitFor(async () => ((await h.api.decrypt(slug, svc, items[0]!.ciphertext)).status === 423 ? Date.now() : undefined), BOUND_MS + 3000);
    const st = await status(slug);
    lockRows.push({ revocation: kind, "detected ms": new Date(st.lastLock?.detectedAt ?? 0).getTime() - t0, "first 423 ms": refusedAt ? refusedAt - t0 : null, reason: st.reason });
    expect(refusedAt, "no 423 within the bound").toBeDefined();
    expect(refusedAt! - t0).toBeLessThanOrEqual(BOUND_MS);
    expect(st.state).toBe("locked");
    expect(st.lockSource).toBe("kms");
    expect(st.reason).toBe(`kms:pkcs11:${reason}`);
  });

  test("the token store vanishing (softhsm2-util --delete-token) is an outage: no lock, cached DEKs keep serving", async () => {
    const slug = "p11-token-gone";
    const token = hsm.initToken(slug);
    const uri = hsm.createKey(token, "k");
    const svc = await h.api.readyTenant(slug, "pkcs11", uri);
    const [item] = await encryptMany(h.api, slug, svc, 1);
    await activityReported(h.runtime.db, slug);
    const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
    const since = new Date();
    hsm.deleteToken(slug);
    // The prober sees the module fail (CKR_GENERAL_ERROR: SoftHSM2 cannot read the token it still lists).
    await poll(
      async () => {
        const kc = await h.runtime.db.prisma.keyConnection.findFirst({ where: { tenantId, status: "connected" } });
        return kc?.lastProbeOutcome === "unavailable" && kc.lastProbeAt! > since;
      },
      { what: "an unavailable probe of the vanished token", timeoutMs: 3 * INTERVAL_MS + 2000 },
    );
    // An absence check: two more probe intervals in which a lock would have happened.
    await sleep(2 * INTERVAL_MS);
    expect((await status(slug)).state).toBe("active");
    const dec = await h.api.decrypt(slug, svc, item!.ciphertext);
    expect(dec.status).toBe(200);
  });

  test("concurrent decrypts of a cold DEK make one C_Decrypt", async () => {
    const slug = "p11-single-flight";
    const token = hsm.initToken(slug);
    const uri = hsm.createKey(token, "k");
    const svc = await h.api.readyTenant(slug, "pkcs11", uri);
    const keyRef = (await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.key.keyId as string;
    const items = await encryptMany(h.api, slug, svc, 4);
    const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
    h.runtime.ctx.cache.dropTenant(tenantId);

    // The device's C_Decrypt counter is shared by every key on the module, and the prober's canary
    // round trips (this key's and the other tenants' keys of this file) land in any window; so the
    // data path's unwraps of this key are counted at the provider (each is one C_Decrypt).
    const p = provider();
    const unwrap = p.unwrap.bind(p);
    let dataPath = 0;
    p.unwrap = async (keyId, wrapped, context) => {
      if (context.purpose !== "canary" && keyId === keyRef) dataPath++;
      return unwrap(keyId, wrapped, context);
    };
    try {
      const before = p.counters.decrypt;
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => h.api.decrypt(slug, svc, items[i % items.length]!.ciphertext)));
      expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
      console.log(`24 concurrent decrypts of a cold DEK: ${dataPath} data-path C_Decrypt (${p.counters.decrypt - before} on the module, probes included)`);
      expect(dataPath).toBe(1);
      expect(p.counters.decrypt - before).toBeGreaterThanOrEqual(1);
    } finally {
      p.unwrap = unwrap;
    }
  });

  test("the fleet view lists PKCS#11 keys with their health", async () => {
    const r = await h.api.admin("GET", "/api/v1/fleet?provider=pkcs11&pageSize=100");
    expect(r.status).toBe(200);
    const rows = r.body.tenants as Array<{ slug: string; provider: string; health: string }>;
    expect(rows.find((t) => t.slug === "p11-journey")).toMatchObject({ provider: "pkcs11" });
    expect(rows.find((t) => t.slug === "p11-pin-changed")).toMatchObject({ health: "locked" });
  });
});
