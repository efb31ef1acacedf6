// The KMIP provider end to end against a real third-party KMIP server, PyKMIP 0.10.0 (Debian
// python3-pykmip), through the broker's HTTP API: the broker's per-tenant client certificates
// are registered in the server's trust bundle (PyKMIP reads it at start), the tenant's own admin
// tools create, revoke and destroy keys over KMIP, and the prober must notice each revocation
// within probe interval + 1 s. Killing the server is an outage: no lock, cached DEKs serve until
// their TTL, then 503 with Retry-After.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { KmipClient } from "@/lib/kms/kmip/client";
import { isKmsError } from "@/lib/kms/types";
import { pykmipInstalled, startPyKmip, type PyKmipServer } from "@/testkit/pykmip";
import { startHarness, type Harness } from "../../support/broker-harness";
import { waitFor as poll } from "../../support/wait";
import { activityReported, DecryptStream, encryptMany, printTable, waitFor } from "../../revocation/helpers";
import { adminClient, compromise, deactivate, kmipTenant, type KmipTenant } from "./tenant-side";

const INTERVAL_MS = 1000;
const BOUND_MS = INTERVAL_MS + 1000;
const TTL_MS = 4000;

if (!pykmipInstalled()) throw new Error("these tests need PyKMIP's server: apt-get install python3-pykmip (.ci/run installs it)");

let server: PyKmipServer;
let h: Harness;
const tenants = new Map<string, KmipTenant>();
const lockRows: Array<Record<string, string | number | null>> = [];
const SLUGS = ["kmip-journey", "kmip-deactivate", "kmip-compromise", "kmip-destroy", "kmip-access", "kmip-outage", "kmip-unregistered", "kmip-wrong-ca"];

const SHARED_POLICY = "broker-shared";
const policyOps = (brokerAccess: "ALLOW_ALL" | "ALLOW_OWNER") =>
  ({ GET: brokerAccess, GET_ATTRIBUTES: brokerAccess, GET_ATTRIBUTE_LIST: "ALLOW_OWNER", ACTIVATE: "ALLOW_OWNER", REVOKE: "ALLOW_OWNER", DESTROY: "ALLOW_OWNER", LOCATE: "ALLOW_OWNER" }) as const;

beforeAll(async () => {
  server = await startPyKmip();
  h = await startHarness({
    BROKER_KMIP_ALLOWED_HOSTS: `${server.host}:${server.port}`,
    BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS),
    BROKER_DEK_CACHE_TTL_MS: String(TTL_MS),
    // PyKMIP's TLS handshakes take over a second on a busy 2-core machine.
    BROKER_KMS_TIMEOUT_MS: "3000",
  });
  for (const slug of SLUGS) tenants.set(slug, await kmipTenant(h.api, server, slug));
  // The tenants register the broker's certificates: all but one (PyKMIP reads trust at start).
  server.setTrustedClientCerts(SLUGS.filter((s) => s !== "kmip-unregistered").map((s) => tenants.get(s)!.certificatePem));
  // Policies are read at start (and rescanned about once a second).
  server.writePolicy(SHARED_POLICY, policyOps("ALLOW_ALL"));
  server.kill();
  await server.start();
}, 60_000);

afterAll(async () => {
  printTable(`KMIP (PyKMIP) time-to-lock, probe interval ${INTERVAL_MS} ms (ms from the revocation taking effect on the server)`, lockRows);
  server?.dispose();
  await h?.close();
});

const connect = (slug: string, keyRef: string, serverCaPem = server.caPem) => h.api.admin("PUT", `/api/v1/tenants/${slug}/key`, { provider: "kmip", keyId: keyRef, serverCaPem });
const status = async (slug: string) => (await h.api.admin("GET", `/api/v1/tenants/${slug}/status`)).body;

test("connect -> validate -> encrypt -> decrypt through the broker API, audited with the Unique Identifier and parameters", async () => {
  const t = tenants.get("kmip-journey")!;
  const { uid, keyRef } = await t.newKey();
  const c = await connect(t.slug, keyRef);
  expect(c.status, JSON.stringify(c.body)).toBe(200);
  expect(c.body.tenant.state).toBe("active");
  expect(c.body.key).toMatchObject({ provider: "kmip", keyId: keyRef, keyVersion: `${uid} AES-256-GCM iv96 tag128` });
  expect(c.body.validation.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`)).toEqual(["describe:true", "wrap:true", "unwrap:true", "compare:true"]);
  const token = await h.api.token(t.slug);
  const enc = await h.api.encrypt(t.slug, token, "hello kmip", { order: "42" });
  expect(enc.status).toBe(200);
  h.runtime.ctx.cache.clear();
  const dec = await h.api.decrypt(t.slug, token, enc.body.ciphertext, { order: "42" });
  expect(dec.status).toBe(200);
  expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("hello kmip");
  // The wrap context is bound as GCM AAD: the same wrapped DEK does not open under another tenant's id.
  const row = (await h.runtime.db.query<{ wrapped_key: Buffer }>(`SELECT wrapped_key FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1`, [t.slug]))[0]!;
  const other = await h.runtime.ctx.providers.kmip.unwrap(keyRef, Buffer.from(row.wrapped_key), { tenant: "00000000-0000-4000-8000-000000000000" }).catch((e: unknown) => e);
  expect(isKmsError(other) && other.kind !== "revoked").toBe(true);
  const audit = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/audit?limit=50`);
  const wrap = (audit.body.events as Array<{ action: string; provider: string; keyVersion: string | null }>).find((e) => e.action === "kms.wrap");
  expect(wrap).toMatchObject({ provider: "kmip", keyVersion: `${uid} AES-256-GCM iv96 tag128` });
  // The broker's client private key is stored only sealed.
  const id = (await h.runtime.db.query<{ private_key_sealed: Buffer }>(`SELECT private_key_sealed FROM kmip_client_identity i JOIN tenant t ON t.id = i.tenant_id WHERE t.slug = $1`, [t.slug]))[0]!;
  expect(Buffer.from(id.private_key_sealed).toString("latin1")).not.toContain("PRIVATE KEY");
  // The health/fleet view knows the key and its provider.
  const fleet = await h.api.admin("GET", `/api/v1/fleet?provider=kmip`);
  expect(fleet.status, JSON.stringify(fleet.body)).toBe(200);
  expect(JSON.stringify(fleet.body)).toContain(t.slug);
});

test("a client certificate the KMIP server does not accept, and a wrong server CA, are clear validation failures (422 naming the step)", async () => {
  const unregistered = tenants.get("kmip-unregistered")!;
  // The key exists (created by an admin with the same CN); only the broker's certificate is unknown to the server.
  const { keyRef } = await unregistered.newKey();
  const r = await connect(unregistered.slug, keyRef);
  expect(r.status).toBe(422);
  expect(r.body.error).toMatchObject({ code: "grant_invalid", step: "describe", reason: "access_denied", providerCode: "tls_client_certificate_rejected" });
  expect(r.body.error.message).toMatch(/^describe failed/);

  const wrongCa = tenants.get("kmip-wrong-ca")!;
  const k = await wrongCa.newKey();
  const foreign = server.foreignClientCert("not-the-server-ca").certPem;
  const w = await connect(wrongCa.slug, k.keyRef, foreign);
  expect(w.status).toBe(422);
  expect(w.body.error).toMatchObject({ code: "grant_invalid", step: "describe", providerCode: "server_certificate_untrusted" });
  expect((await status(wrongCa.slug)).state).toBe("pending");

  // A key the broker can reach but cannot use is named by what is wrong with it (Get Attributes).
  const short = await wrongCa.admin.create({ usageMask: 12, length: 128 });
  await wrongCa.admin.activate(short);
  const s128 = await connect(wrongCa.slug, `kmip://${server.host}:${server.port}/${short}`);
  expect(s128.status).toBe(422);
  expect(s128.body.error).toMatchObject({ step: "describe", providerCode: "key_unsuitable" });
  expect(s128.body.error.message).toContain("128-bit, not 256-bit");
  const preActive = await wrongCa.admin.create({ usageMask: 12 });
  const pre = await connect(wrongCa.slug, `kmip://${server.host}:${server.port}/${preActive}`);
  expect(pre.body.error.message).toContain("State is PreActive, not Active");
});

interface LockCase {
  slug: string;
  kind: string;
  reason: RegExp;
  setup(t: KmipTenant): Promise<{ keyRef: string; revoke(): Promise<unknown> }>;
}

const lockCases: LockCase[] = [
  {
    slug: "kmip-deactivate",
    kind: "Revoke CESSATION_OF_OPERATION (Deactivated)",
    reason: /^kms:kmip:disabled$/,
    async setup(t) {
      const k = await t.newKey();
      return { keyRef: k.keyRef, revoke: () => deactivate(t.admin, k.uid) };
    },
  },
  {
    slug: "kmip-compromise",
    kind: "Revoke KEY_COMPROMISE (Compromised)",
    reason: /^kms:kmip:compromised$/,
    async setup(t) {
      const k = await t.newKey();
      return { keyRef: k.keyRef, revoke: () => compromise(t.admin, k.uid) };
    },
  },
  {
    slug: "kmip-destroy",
    kind: "Revoke + Destroy (PyKMIP destroys only non-active keys)",
    // The probe may land between the two calls (Deactivated) or after them (Item Not Found, or
    // Destroyed when the object vanished between Encrypt and the State read).
    reason: /^kms:kmip:(not_found|disabled|destroyed)$/,
    async setup(t) {
      const k = await t.newKey();
      return {
        keyRef: k.keyRef,
        revoke: async () => {
          await deactivate(t.admin, k.uid);
          await t.admin.destroy(k.uid);
        },
      };
    },
  },
  {
    slug: "kmip-access",
    kind: "broker's access removed (operation policy: key owned by another CN)",
    reason: /^kms:kmip:access_denied$/,
    async setup() {
      const owner = adminClient(server, "tenant-key-custodian");
      const uid = await owner.create({ usageMask: 12, operationPolicyName: SHARED_POLICY });
      // PyKMIP's policy monitor loads policy files some time after a (re)start; until it has, an
      // object under that policy cannot be found by anyone ("Could not locate object").
      await poll(() => owner.activate(uid).then(() => true, () => null), { what: "PyKMIP to load the shared policy", timeoutMs: 20_000, intervalMs: 250 });
      return { keyRef: `kmip://${server.host}:${server.port}/${uid}`, revoke: () => Promise.resolve(server.writePolicy(SHARED_POLICY, policyOps("ALLOW_OWNER"))) };
    },
  },
];

/** The broker's own KMIP client for a tenant's key, to see when the server starts refusing it. */
async function brokerView(slug: string, keyRef: string): Promise<KmipClient> {
  const id = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
  const creds = await h.runtime.ctx.kmipCredentials.credentialsFor(keyRef, id);
  return new KmipClient({ host: server.host, port: server.port, ...creds }, `view ${slug}`, { timeoutMs: 5000 });
}

describe.concurrent("each KMIP revocation kind locks within probe interval + 1 s; re-connecting a new key resumes", () => {
  test.each(lockCases)("$kind", async (c) => {
    const t = tenants.get(c.slug)!;
    const key = await c.setup(t);
    const conn = await connect(t.slug, key.keyRef);
    expect(conn.status, JSON.stringify(conn.body)).toBe(200);
    const token = await h.api.token(t.slug);
    const items = await encryptMany(h.api, t.slug, token, 3);
    await activityReported(h.runtime.db, t.slug);
    const stream = new DecryptStream(h.api, t.slug, token, items, 1, 20).start();
    await poll(() => stream.samples.some((s) => s.status === 200), { what: `decrypts of ${t.slug} served before the revocation` });

    const view = await brokerView(t.slug, key.keyRef);
    const uid = key.keyRef.split("/").pop()!;
    await key.revoke();
    // PyKMIP applies a policy change on its next scan (about a second): the clock starts when the
    // server first refuses the broker, which for Revoke and Destroy is the end of the call.
    const effective = await poll(() => view.encrypt(uid, Buffer.alloc(32), randomBytes(12), Buffer.from("effect")).then(() => null, () => Date.now()), { what: "the server to refuse the broker", timeoutMs: 10_000, intervalMs: 25 });
    const refused = await waitFor(() => Promise.resolve(stream.first((s) => s.status === 423 && s.sent >= effective)), BOUND_MS + 3000);
    const samples = await stream.stop();
    const st = await status(t.slug);
    lockRows.push({ provider: "kmip", revocation: c.kind, "lock effective ms": new Date(st.lastLock?.effectiveAt ?? 0).getTime() - effective, "first 423 ms": refused ? refused.recv - effective : null, reason: st.reason });
    expect(st.state).toBe("locked");
    expect(st.lockSource).toBe("kms");
    expect(st.reason).toMatch(c.reason);
    expect(refused, "no 423 within the bound").toBeDefined();
    expect(new Date(st.lastLock.effectiveAt).getTime() - effective).toBeLessThanOrEqual(BOUND_MS);
    expect(samples.filter((s) => s.status !== 200 && s.status !== 423)).toEqual([]);
    if (c.slug === "kmip-destroy") {
      const d = await h.runtime.ctx.providers.kmip.describe(key.keyRef).catch((e: unknown) => e);
      expect(isKmsError(d) && d.kind === "revoked" && d.reason === "not_found").toBe(true);
    }

    // Restore: PyKMIP never re-activates a revoked key, so the tenant connects a new one.
    const fresh = await t.newKey();
    const again = await connect(t.slug, fresh.keyRef);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    // A probe of the replaced key still in flight may lock once more; the next probe of the new key resumes.
    await poll(async () => (await status(t.slug)).state === "active", { what: `${t.slug} active on its new key`, timeoutMs: BOUND_MS + 3000, intervalMs: 50 });
    const enc = await h.api.encrypt(t.slug, token, "after restore");
    expect(enc.status).toBe(200);
    const dec = await h.api.decrypt(t.slug, token, enc.body.ciphertext);
    expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("after restore");
  });
});

test("killing the KMIP server mid-load is an outage: 0 locks, cached DEKs serve until the TTL, then 503 with Retry-After", async () => {
  const t = tenants.get("kmip-outage")!;
  const { keyRef } = await t.newKey();
  expect((await connect(t.slug, keyRef)).status).toBe(200);
  const token = await h.api.token(t.slug);
  const items = await encryptMany(h.api, t.slug, token, 3);
  await activityReported(h.runtime.db, t.slug);
  const stream = new DecryptStream(h.api, t.slug, token, items, 1, 20).start();
  await poll(() => stream.samples.some((s) => s.status === 200), { what: "decrypts served before the outage" });
  const killedAt = Date.now();
  server.kill();
  const unavailable = await poll(() => stream.first((s) => s.status === 503 && s.sent > killedAt), { what: "a 503 once the cached DEKs expire", timeoutMs: TTL_MS + 8000 });
  await poll(() => stream.samples.filter((s) => s.sent > unavailable.recv).length >= 5, { what: "more requests during the outage" });
  const samples = await stream.stop();
  const st = await status(t.slug);
  expect(st.state).toBe("active");
  const transitions = await h.runtime.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tenant_transition x JOIN tenant t ON t.id = x.tenant_id WHERE t.slug = $1 AND x.to_state = 'locked'`, [t.slug]);
  expect(transitions[0]!.n).toBe(0);
  expect(samples.filter((s) => s.status === 423 || s.status >= 500 && s.status !== 503)).toEqual([]);
  // Served from the cache during the outage until the TTL ran out, never after.
  expect(samples.some((s) => s.status === 200 && s.sent > killedAt)).toBe(true);
  const after = samples.filter((s) => s.sent > unavailable.recv);
  expect(after.every((s) => s.status === 503 && Number(s.retryAfter) >= 1)).toBe(true);
  const health = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/health`);
  expect(JSON.stringify(health.body)).toContain("kms_unreachable");
}, 60_000);
