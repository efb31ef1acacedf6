// Crypto-shredding on two broker instances sharing one PostgreSQL database: after the vendor
// admin shreds a tenant (the slug typed out as confirmation), every wrapped DEK is gone, both
// instances (whose caches held the DEKs) answer every decrypt of old ciphertext and every
// encrypt with 410 tenant_shredded, so does an instance started afterwards, no DEK can be stored
// for the tenant any more, and the audit log holds a signed certificate of destruction that the
// offline verifier (scripts/audit-verify.ts) accepts, and rejects once tampered with.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { createPublicKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chainFieldsOf, hashEntry, type AuditEventRecord } from "@/lib/audit/canonical";
import { dekIdsDigest, shredCertificateProblem } from "@/lib/audit/shred-certificate";
import { verifyExport } from "@/lib/audit/verify";
import { BrokerError } from "@/lib/broker/errors";
import { isShreddedTenantWrite } from "@/lib/db/errors";
import { withDataKey } from "@/lib/broker/operations/data-admission";
import { shredTenant } from "@/lib/broker/operations/shred-tenant";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SLUG = "shred-t";
let h: Harness;
let b: ApiClient;
let token: string;
const records: Array<{ ciphertext: string; plaintext: string }> = [];

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "600000" });
  const second = await h.startInstance();
  b = new ApiClient(second.url);
  const { keyArn } = await h.aws.createKeyForVendor();
  token = await h.api.readyTenant(SLUG, "aws", keyArn);
  const seal = async (text: string) => {
    const r = await h.api.encrypt(SLUG, token, text, { table: "invoices" });
    expect(r.status).toBe(200);
    records.push({ ciphertext: r.body.ciphertext as string, plaintext: text });
  };
  for (let i = 0; i < 3; i++) await seal(`first key ${i}`);
  // A second key connection gives the tenant a second DEK.
  const { keyArn: second2 } = await h.aws.createKeyForVendor();
  expect((await h.api.connect(SLUG, "aws", second2)).status).toBe(200);
  for (let i = 0; i < 3; i++) await seal(`second key ${i}`);
}, 120_000);
afterAll(async () => h?.close(), 60_000);

const decryptOn = (api: ApiClient, r: { ciphertext: string }) => api.decrypt(SLUG, token, r.ciphertext, { table: "invoices" });

async function exportJsonl(): Promise<string[]> {
  const r = await fetch(`${h.runtime.url}/api/v1/tenants/${SLUG}/audit/export?format=jsonl`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return (await r.text()).split("\n").filter((l) => l.trim() !== "");
}

describe("crypto-shredding", () => {
  test("destroys every DEK; 410 on both instances and after a restart; the certificate verifies offline and fails once tampered", async () => {
    // Both instances serve the old data from their caches first.
    for (const api of [h.api, b]) for (const r of records) expect((await decryptOn(api, r)).body.plaintext).toBe(Buffer.from(r.plaintext).toString("base64"));
    const dekIds = (await h.runtime.db.query<{ id: string }>(`SELECT d.id FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1`, [SLUG])).map((r) => r.id);
    expect(dekIds).toHaveLength(2);

    const wrong = await h.api.admin("POST", `/api/v1/tenants/${SLUG}/shred`, { confirm: "shred-x" });
    expect(wrong.status).toBe(400);
    expect((await decryptOn(b, records[0]!)).status).toBe(200);

    const shred = await h.api.admin("POST", `/api/v1/tenants/${SLUG}/shred`, { confirm: SLUG });
    expect(shred.status).toBe(200);
    const cert = shred.body.certificate;
    expect(cert).toMatchObject({ type: "certificate_of_destruction", tenantSlug: SLUG, dekCount: 2, dekIdsSha256: dekIdsDigest(dekIds), actor: { type: "admin_token" } });
    expect(shred.body.tenant.shreddedAt).toBe(cert.shreddedAt);

    // Once the call returned, every instance refuses: old ciphertext and new encryptions alike.
    for (const api of [h.api, b]) {
      for (const r of records) {
        const d = await decryptOn(api, r);
        expect(d.status).toBe(410);
        expect(d.body.error).toMatchObject({ code: "tenant_shredded", shreddedAt: cert.shreddedAt });
      }
      const e = await api.encrypt(SLUG, token, "new data");
      expect(e.status).toBe(410);
    }
    const left = await h.runtime.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1`, [SLUG]);
    expect(left[0]!.n).toBe("0");
    // No instance can store a DEK for the tenant any more (migration 0008's trigger).
    await expect(
      h.runtime.db.query(`INSERT INTO data_key (id, tenant_id, key_connection_id, wrapped_key) SELECT gen_random_uuid(), t.id, k.id, '\\x00' FROM tenant t JOIN key_connection k ON k.tenant_id = t.id WHERE t.slug = $1 LIMIT 1`, [SLUG]),
    ).rejects.toThrow(/no data key may be stored/);
    // An encryption that passed admission on an instance that had not heard of the shred yet: its new
    // DEK is wrapped, then refused by the database, and the request gets 410 like every other.
    const ctx = h.runtime.ctx;
    const fresh = (await ctx.registry.load({ slug: SLUG }))!;
    const stale = { ...fresh, state: "active" as const, shreddedAt: null };
    const raced = await withDataKey(ctx, stale, { tenantId: stale.id, actor: { type: "system", name: "race" }, action: "encrypt" }, () =>
      ctx.keys.forEncrypt(stale, { actor: { type: "system", name: "race" } }),
    ).catch((e: unknown) => e);
    expect(raced).toBeInstanceOf(BrokerError);
    expect((raced as BrokerError).code).toBe("tenant_shredded");
    const refusedWrite = await ctx.keys.forEncrypt(stale, { actor: { type: "system", name: "race" } }).catch((e: unknown) => e);
    expect(isShreddedTenantWrite(refusedWrite), String(refusedWrite)).toBe(true);
    // Nothing brings it back: unlock, a new key and a second shred are refused too.
    expect((await h.api.admin("POST", `/api/v1/tenants/${SLUG}/unlock`)).status).toBe(410);
    const { keyArn: another } = await h.aws.createKeyForVendor();
    expect((await h.api.connect(SLUG, "aws", another)).status).toBe(410);
    expect((await h.api.admin("POST", `/api/v1/tenants/${SLUG}/shred`, { confirm: SLUG })).status).toBe(410);
    expect((await b.admin("GET", `/api/v1/tenants/${SLUG}/status`)).body.shreddedAt).toBe(cert.shreddedAt);
    // A fresh instance reads the flag from the database.
    const third = new ApiClient((await h.startInstance()).url);
    expect((await decryptOn(third, records[0]!)).status).toBe(410);

    // The certificate on its own, against the published key.
    const pub = await h.api.call<{ all: Array<{ keyId: string; publicKeyPem: string }> }>("GET", "/api/v1/audit/public-key");
    const keys = new Map(pub.body.all.map((k) => [k.keyId, createPublicKey(k.publicKeyPem)]));
    expect(shredCertificateProblem(cert, cert.tenantId, keys)).toBeNull();
    expect(shredCertificateProblem({ ...cert, dekCount: 1 }, cert.tenantId, keys)).toMatch(/invalid signature/);

    // The export verifies offline, with the certificate entry in it.
    const lines = await exportJsonl();
    const entry = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.type === "event" && o.action === "tenant.shred") as unknown as AuditEventRecord;
    expect((entry.detail as { certificate: unknown }).certificate).toEqual(cert);
    expect(await verifyExport(lines)).toMatchObject({ ok: true });
    const genuine = path.join(h.dataDir, "genuine.jsonl");
    writeFileSync(genuine, lines.join("\n") + "\n");
    const run = promisify(execFile);
    const ok = await run(process.execPath, ["--import", "tsx", "scripts/audit-verify.ts", genuine], { cwd: ROOT });
    expect(ok.stdout).toMatch(/^ok: /);

    // Tampered: fewer DEKs claimed, and the chain re-hashed from there on so the hashes still link.
    const tampered: string[] = [];
    let prev: string | null = null;
    for (const line of lines) {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.type !== "event") {
        tampered.push(line);
        continue;
      }
      const ev = o as unknown as AuditEventRecord & Record<string, unknown>;
      if (ev.action === "tenant.shred") ev.detail = { certificate: { ...cert, dekCount: 1 } };
      if (prev !== null && (ev.action === "tenant.shred" || ev.prevHash !== prev)) {
        ev.prevHash = prev;
      }
      if (ev.action === "tenant.shred" || prev !== null) {
        ev.hash = hashEntry(ev.prevHash, chainFieldsOf(ev));
        prev = ev.hash;
      }
      tampered.push(JSON.stringify(ev));
    }
    const bad = await verifyExport(tampered);
    expect(bad.ok).toBe(false);
    expect(bad.firstBadEntry!.problem).toMatch(/certificate of destruction\) has a certificate with an invalid signature/);
    const tamperedFile = path.join(h.dataDir, "tampered.jsonl");
    writeFileSync(tamperedFile, tampered.join("\n") + "\n");
    const failed = await run(process.execPath, ["--import", "tsx", "scripts/audit-verify.ts", tamperedFile], { cwd: ROOT }).then(
      () => null,
      (e: { code?: number; stdout?: string; stderr?: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(`${failed?.stdout}${failed?.stderr}`).toMatch(/certificate/);
  }, 120_000);

  test("the approval gate can refuse: nothing is destroyed and the data stays readable (the hook for dual control)", async () => {
    const { keyArn } = await h.aws.createKeyForVendor();
    const svc = await h.api.readyTenant("shred-gated", "aws", keyArn);
    const enc = await h.api.encrypt("shred-gated", svc, "kept");
    expect(enc.status).toBe(200);
    const refused = await shredTenant({
      ctx: h.runtime.ctx,
      actor: { kind: "admin" },
      tenant: "shred-gated",
      confirm: "shred-gated",
      approve: () => Promise.resolve({ allowed: false, reason: "a second approver is required" }),
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrokerError);
    expect((refused as BrokerError).code).toBe("forbidden");
    expect((refused as BrokerError).message).toContain("a second approver is required");
    const left = await h.runtime.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'shred-gated'`);
    expect(left[0]!.n).toBe("1");
    expect((await h.api.decrypt("shred-gated", svc, enc.body.ciphertext as string)).status).toBe(200);
  }, 60_000);
});
