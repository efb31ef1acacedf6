// Key rotation seen by the prober, per provider, through the real SDKs and the emulators' real
// rotation APIs (AWS RotateKeyOnDemand, Azure rotateKey, GCP CreateCryptoKeyVersion +
// UpdateCryptoKeyPrimaryVersion): the broker records the new current version within the probe
// interval, new encryptions get a DEK wrapped under it, old ciphertexts still decrypt, and the
// tenant never locks, not even when the tenant disables the old version (Azure, GCP) before or
// after the broker noticed the rotation. DEKs written before version tracking (AWS stored the key
// ARN as their version) still decrypt.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import { encryptMany } from "../revocation/helpers";

const INTERVAL_MS = 400;
const EVENTGRID_SECRET = "eventgrid-secret-rotation-0123456789";
const PUBSUB_TOKEN = "pubsub-token-rotation-0123456789";
/** A push-triggered probe runs at once; 3 s is a correctness bound on a loaded machine, not the latency. */
const PUSH_BOUND_MS = 3000;
/** Generous for a loaded 2-core machine; the promise is one probe interval (+ probe latency). */
const DETECT_BOUND_MS = 15_000;

type Provider = "aws" | "azure" | "gcp";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS),
    BROKER_DEK_CACHE_TTL_MS: "600000",
    // Seconds, not the harness's 1 s: the Azure emulator's RSA work stalls on a loaded 2-core machine.
    BROKER_KMS_TIMEOUT_MS: "5000",
    BROKER_EVENTGRID_SECRET: EVENTGRID_SECRET,
    BROKER_PUBSUB_TOKEN: PUBSUB_TOKEN,
  });
});

afterAll(async () => {
  await h?.close();
});

async function tenantId(slug: string): Promise<string> {
  return (await h.runtime.ctx.registry.load({ slug }))!.id;
}

async function connection(slug: string): Promise<{ key_version: string | null; resolved_key: string | null; last_probe_at: Date | null }> {
  const rows = await h.runtime.ctx.db.query<{ key_version: string | null; resolved_key: string | null; last_probe_at: Date | null }>(
    `SELECT kc.key_version, kc.resolved_key, kc.last_probe_at FROM key_connection kc JOIN tenant t ON t.id = kc.tenant_id WHERE t.slug = $1 AND kc.status = 'connected'`,
    [slug],
  );
  return rows[0]!;
}

async function deks(slug: string): Promise<Array<{ id: string; key_version: string | null; wrapped_by_key: string | null; retired: boolean }>> {
  return h.runtime.ctx.db.query(
    `SELECT d.id, d.key_version, d.wrapped_by_key, d.retired_at IS NOT NULL AS retired FROM data_key d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = $1 ORDER BY d.created_at`,
    [slug],
  );
}

async function auditActions(slug: string, action: string): Promise<Array<{ detail: unknown }>> {
  return h.runtime.ctx.db.query(`SELECT a.detail FROM audit_event a JOIN tenant t ON t.id = a.tenant_id WHERE t.slug = $1 AND a.action = $2`, [slug, action]);
}

/** The key.rotated entries once one is written (the audit write follows the version update). */
async function rotatedEntries(slug: string): Promise<unknown[]> {
  const rows = await waitFor(async () => {
    const r = await auditActions(slug, "key.rotated");
    return r.length > 0 ? r : null;
  }, { what: `${slug}: key.rotated audited`, timeoutMs: DETECT_BOUND_MS });
  return rows.map((r) => r.detail);
}

/** Two probes that started after `since` and succeeded: enough for a disabled old version to have mattered. */
async function probedTwiceSince(slug: string, since: Date): Promise<void> {
  const first = await waitFor(async () => {
    const c = await connection(slug);
    return c.last_probe_at && c.last_probe_at > since ? c.last_probe_at : null;
  }, { what: `a probe of ${slug}`, timeoutMs: DETECT_BOUND_MS });
  await waitFor(async () => {
    const c = await connection(slug);
    return c.last_probe_at && c.last_probe_at > first;
  }, { what: `a second probe of ${slug}`, timeoutMs: DETECT_BOUND_MS });
}

async function decryptAll(slug: string, token: string, records: Array<{ ciphertext: string; plaintext: string }>): Promise<void> {
  for (const r of records) {
    const d = await h.api.decrypt(slug, token, r.ciphertext);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(Buffer.from(d.body.plaintext as string, "base64").toString()).toBe(r.plaintext);
  }
}

interface Case {
  provider: Provider;
  createKey: () => Promise<string>;
  rotate: (key: string) => Promise<string>;
  /** Disables the version `version` only (Azure, GCP); AWS cannot disable one key material. */
  disableVersion?: (key: string, version: string) => Promise<void>;
}

const cases: Case[] = [
  { provider: "aws", createKey: async () => (await h.aws.createKeyForVendor()).keyArn, rotate: (k) => h.aws.rotateKey(k) },
  {
    provider: "azure",
    createKey: () => h.azure.createKeyForVendor("RSA"),
    rotate: (k) => h.azure.rotateKey(k),
    disableVersion: (k, v) => h.azure.setVersionEnabled(k, v, false),
  },
  {
    provider: "gcp",
    createKey: () => h.gcp.createKeyForVendor(),
    rotate: async (k) => String(await h.gcp.rotateKey(k)),
    disableVersion: (k, v) => h.gcp.setVersionState(k, "DISABLED", Number(v)),
  },
];

describe.each(cases)("$provider: rotation detected by the probe", (c) => {
  test("the new version is recorded within the probe interval, new DEKs use it, old ciphertexts decrypt, disabling the old version does not lock", async () => {
    const slug = `rot-${c.provider}`;
    const key = await c.createKey();
    const token = await h.api.readyTenant(slug, c.provider, key);
    const before = await encryptMany(h.api, slug, token, 3);
    const v0 = (await connection(slug)).key_version;
    expect(v0).toBeTruthy();
    const [first] = await deks(slug);
    // The exact version that wrapped the DEK, and the key it belongs to.
    expect(first).toMatchObject({ key_version: v0, retired: false });
    expect(first!.wrapped_by_key).toBeTruthy();

    const v1 = await c.rotate(key);
    expect(v1).not.toBe(v0);
    await waitFor(async () => (await connection(slug)).key_version === v1, { what: `${slug}: version ${v1} recorded`, timeoutMs: DETECT_BOUND_MS });
    expect(await rotatedEntries(slug)).toEqual([{ from: v0, to: v1, detectedBy: "probe" }]);

    // The DEK under the old version is retired: the next encryption makes one under the new version.
    const after = await encryptMany(h.api, slug, token, 2);
    const all = await deks(slug);
    expect(all.filter((d) => !d.retired).map((d) => d.key_version)).toEqual([v1]);
    expect(all.find((d) => d.id === first!.id)!.retired).toBe(true);
    await decryptAll(slug, token, [...before, ...after]);

    if (c.disableVersion) {
      // Only DEKs of the new version left to read here: drop the old DEK's ciphertexts and
      // disable the old version. The probe's canary was re-wrapped under the new version.
      const disabledAt = new Date();
      await c.disableVersion(key, v0!);
      await probedTwiceSince(slug, disabledAt);
      h.runtime.ctx.cache.dropTenant(await tenantId(slug));
      await decryptAll(slug, token, after);
    }
    expect((await h.api.call("GET", `/api/v1/tenants/${slug}/status`, { token })).body.state).toBe("active");
    expect(await auditActions(slug, "tenant.lock")).toEqual([]);
  });
});

describe.each(cases.filter((c) => c.disableVersion))("$provider: old version disabled before the probe saw the rotation", (c) => {
  test("the probe's canary fails on the old version, the current one works: the rotation is recorded, the tenant stays active", async () => {
    const slug = `rot-early-${c.provider}`;
    const key = await c.createKey();
    const token = await h.api.readyTenant(slug, c.provider, key);
    await encryptMany(h.api, slug, token, 1);
    const v0 = (await connection(slug)).key_version!;
    // Rotate and disable the old version back to back, faster than a probe interval on purpose.
    const v1 = await c.rotate(key);
    await c.disableVersion!(key, v0);
    await waitFor(async () => (await connection(slug)).key_version === v1, { what: `${slug}: version ${v1} recorded`, timeoutMs: DETECT_BOUND_MS });
    await probedTwiceSince(slug, new Date());
    expect((await h.api.call("GET", `/api/v1/tenants/${slug}/status`, { token })).body.state).toBe("active");
    expect(await auditActions(slug, "tenant.lock")).toEqual([]);
    const fresh = await encryptMany(h.api, slug, token, 1);
    await decryptAll(slug, token, fresh);
  });
});

test("AWS DEKs written before version tracking (key ARN as their version) still decrypt, and are told apart as needing re-wrap", async () => {
  const slug = "rot-legacy-aws";
  const { keyArn } = await h.aws.createKeyForVendor();
  const token = await h.api.readyTenant(slug, "aws", keyArn);
  const records = await encryptMany(h.api, slug, token, 2);
  const id = await tenantId(slug);
  // What a row from before this change looks like: the key ARN in key_version, no wrapped_by_key.
  await h.runtime.ctx.db.query(`UPDATE data_key SET key_version = $2, wrapped_by_key = NULL WHERE tenant_id = $1`, [id, keyArn]);
  h.runtime.ctx.cache.dropTenant(id);
  await decryptAll(slug, token, records);
  const current = (await connection(slug)).key_version;
  const stale = await h.runtime.ctx.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM data_key d JOIN key_connection kc ON kc.tenant_id = d.tenant_id AND kc.status = 'connected'
      WHERE d.tenant_id = $1 AND (d.key_connection_id <> kc.id OR d.key_version IS NULL OR d.key_version <> kc.key_version)`,
    [id],
  );
  expect(current).toMatch(/^[0-9a-f]{64}$/);
  expect(stale[0]!.n).toBe(1);
});

describe("push events trigger the rotation check at once", () => {
  /** Takes the tenant's key out of the schedule for an hour, so only the push can explain what follows. */
  async function unschedule(slug: string): Promise<void> {
    const id = await tenantId(slug);
    // The first scheduled probe after the first encryption must be done, or it would race the push.
    await waitFor(async () => (await h.runtime.ctx.db.query(`SELECT 1 FROM key_probe WHERE tenant_id = $1 AND next_probe_at > now()`, [id])).length > 0, { what: `${slug}: first probe scheduled` });
    await h.runtime.ctx.db.query(`UPDATE key_probe SET next_probe_at = now() + interval '1 hour' WHERE tenant_id = $1`, [id]);
    await waitFor(async () => (await h.runtime.ctx.db.query(`SELECT 1 FROM key_probe WHERE tenant_id = $1 AND lease_until IS NULL`, [id])).length > 0, { what: `${slug}: no probe in flight` });
  }

  test("GCP: Cloud Audit Logs UpdateCryptoKeyPrimaryVersion via Pub/Sub push records the new primary version", async () => {
    const slug = "rot-push-gcp";
    const key = await h.gcp.createKeyForVendor();
    const token = await h.api.readyTenant(slug, "gcp", key);
    await encryptMany(h.api, slug, token, 1);
    await unschedule(slug);
    const v1 = String(await h.gcp.rotateKey(key));
    const entry = {
      protoPayload: { "@type": "type.googleapis.com/google.cloud.audit.AuditLog", serviceName: "cloudkms.googleapis.com", methodName: "UpdateCryptoKeyPrimaryVersion", resourceName: key },
      insertId: randomUUID(),
      timestamp: new Date().toISOString(),
    };
    const r = await h.api.call("POST", `/api/v1/kms-events/gcp?token=${PUBSUB_TOKEN}`, {
      body: { message: { data: Buffer.from(JSON.stringify(entry)).toString("base64"), messageId: randomUUID() }, subscription: "projects/vendor/subscriptions/cmek" },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await waitFor(async () => (await connection(slug)).key_version === v1, { what: `${slug}: version ${v1} recorded after the push`, timeoutMs: PUSH_BOUND_MS });
    expect(await rotatedEntries(slug)).toEqual([{ from: "1", to: v1, detectedBy: "push" }]);
  });

  test("Azure: Event Grid Microsoft.KeyVault.KeyNewVersionCreated records the new version", async () => {
    const slug = "rot-push-azure";
    const uri = await h.azure.createKeyForVendor("RSA");
    const token = await h.api.readyTenant(slug, "azure", uri);
    await encryptMany(h.api, slug, token, 1);
    const v0 = (await connection(slug)).key_version;
    await unschedule(slug);
    const v1 = await h.azure.rotateKey(uri);
    const name = uri.split("/").pop()!;
    const event = [
      {
        id: randomUUID(),
        topic: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v",
        subject: name,
        eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
        eventTime: new Date().toISOString(),
        data: { Id: `${uri}/${v1}`, VaultName: "v", ObjectType: "Key", ObjectName: name, Version: v1 },
        dataVersion: "1",
        metadataVersion: "1",
      },
    ];
    const r = await h.api.call("POST", `/api/v1/kms-events/azure?secret=${EVENTGRID_SECRET}`, { rawBody: JSON.stringify(event), headers: { "content-type": "application/json" } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await waitFor(async () => (await connection(slug)).key_version === v1, { what: `${slug}: version ${v1} recorded after the push`, timeoutMs: PUSH_BOUND_MS });
    expect(await rotatedEntries(slug)).toEqual([{ from: v0, to: v1, detectedBy: "push" }]);
  });

  test("AWS: EventBridge KMS CMK Rotation and CloudTrail RotateKeyOnDemand name the key (parsing; delivery is the signed SNS path of test/revocation/push.test.ts)", async () => {
    const { hintFromEventBridge } = await import("@/lib/broker/kms-events/aws-sns");
    const arn = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const native = hintFromEventBridge({ source: "aws.kms", "detail-type": "KMS CMK Rotation", account: "222222222222", region: "us-east-1", resources: [arn], detail: { "key-id": arn.split("/")[1] } });
    expect(native).toMatchObject({ provider: "aws", event: "KMS CMK Rotation" });
    expect(native!.matches).toContainEqual({ kind: "suffix", value: ":222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab" });
    const trail = hintFromEventBridge({
      source: "aws.kms",
      "detail-type": "AWS API Call via CloudTrail",
      account: "222222222222",
      region: "us-east-1",
      detail: { eventName: "RotateKeyOnDemand", requestParameters: { keyId: arn } },
    });
    expect(trail).toMatchObject({ provider: "aws", event: "RotateKeyOnDemand" });
  });
});
