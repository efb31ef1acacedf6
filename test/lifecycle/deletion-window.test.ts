// Deletion windows, per provider through the real SDKs and the emulators: the tenant schedules
// its key for deletion (AWS ScheduleKeyDeletion, GCP DestroyCryptoKeyVersion of the primary,
// Azure DeleteKey with soft delete), the broker locks the tenant, and the status and tenant APIs
// show the date after which the data is unrecoverable (AWS DeletionDate, GCP destroyTime, Azure
// scheduledPurgeDate) with the days left. Cancelling (CancelKeyDeletion, RestoreCryptoKeyVersion,
// RecoverDeletedKey) resumes the tenant like any KMS-caused lock once the key works again: AWS
// and GCP leave a cancelled key disabled, exactly as the real services do, so the owner enables it.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GCP_EMULATOR_VENDOR } from "@/emulators/gcp/server";
import { DescribeKeyCommand, EnableKeyCommand } from "@aws-sdk/client-kms";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";

let h: Harness;

beforeAll(async () => {
  // Fast probes: a probe of an active tenant finds the deletion, the locked-tenant probe the restoration.
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "300", BROKER_LOCKED_PROBE_INTERVAL_MS: "300" });
}, 120_000);
afterAll(async () => h?.close(), 60_000);

interface Deletion {
  unrecoverableAfter: string;
  daysLeft: number;
}

async function status(slug: string) {
  const r = await h.api.call<{ state: string; reason: string | null; deletion?: Deletion | null }>("GET", `/api/v1/tenants/${slug}/status`, { token: ADMIN_TOKEN });
  expect(r.status).toBe(200);
  return r.body;
}

/** Encrypts once (so the tenant is active and probed), then returns the ciphertext. */
async function activeTenant(slug: string, provider: string, keyId: string): Promise<{ token: string; ciphertext: string }> {
  const token = await h.api.readyTenant(slug, provider, keyId);
  const enc = await h.api.encrypt(slug, token, `${slug} data`);
  expect(enc.status).toBe(200);
  return { token, ciphertext: enc.body.ciphertext as string };
}

/** Waits for the lock and its deletion window; checks the date against the KMS's own and the days left. */
async function expectDeletionWindow(slug: string, token: string, ciphertext: string, expected: Date, days: number): Promise<void> {
  const s = await waitFor(async () => {
    const st = await status(slug);
    return st.state === "locked" && st.deletion ? st : null;
  }, { what: `${slug} locked with a deletion window`, timeoutMs: 20_000, intervalMs: 100 });
  expect(Math.abs(new Date(s.deletion!.unrecoverableAfter).getTime() - expected.getTime())).toBeLessThan(1000);
  expect(s.deletion!.daysLeft).toBe(days);
  const t = await h.api.call<{ deletion?: Deletion | null }>("GET", `/api/v1/tenants/${slug}`, { token: ADMIN_TOKEN });
  expect(t.body.deletion).toEqual(s.deletion);
  const d = await h.api.decrypt(slug, token, ciphertext);
  expect(d.status).toBe(423);
}

async function expectResumed(slug: string, token: string, ciphertext: string): Promise<void> {
  await waitFor(async () => (await status(slug)).state === "active", { what: `${slug} resumed`, timeoutMs: 20_000, intervalMs: 100 });
  expect((await status(slug)).deletion).toBeNull();
  const d = await h.api.decrypt(slug, token, ciphertext);
  expect(d.status).toBe(200);
}

describe("deletion windows", () => {
  test("AWS: ScheduleKeyDeletion locks and shows DeletionDate; CancelKeyDeletion + EnableKey resumes", async () => {
    const { keyArn } = await h.aws.createKeyForVendor();
    const { token, ciphertext } = await activeTenant("del-aws", "aws", keyArn);
    await h.aws.scheduleDeletion(keyArn);
    const md = (await h.aws.client.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!;
    expect(md.KeyState).toBe("PendingDeletion");
    expect(md.PendingDeletionWindowInDays).toBe(7);
    await expectDeletionWindow("del-aws", token, ciphertext, md.DeletionDate!, 7);
    await h.aws.cancelDeletion(keyArn);
    // As in AWS, a cancelled deletion leaves the key Disabled: still locked, but no deletion pending.
    await waitFor(async () => (await status("del-aws")).deletion === null, { what: "deletion window cleared after cancel", timeoutMs: 20_000, intervalMs: 100 });
    expect((await status("del-aws")).state).toBe("locked");
    await h.aws.client.send(new EnableKeyCommand({ KeyId: keyArn }));
    await expectResumed("del-aws", token, ciphertext);
  }, 90_000);

  test("GCP: DestroyCryptoKeyVersion of the primary locks and shows destroyTime; RestoreCryptoKeyVersion + enable resumes", async () => {
    const keyName = await h.gcp.createKeyForVendor();
    // destroyTime is read with cloudkms.cryptoKeys.get, which cryptoKeyEncrypterDecrypter lacks: the tenant adds viewer.
    const asTenant = { otherArgs: { headers: { authorization: `Bearer ${h.gcp.principal.token}` } } };
    const [policy] = await h.gcp.client.getIamPolicy({ resource: keyName } as Parameters<typeof h.gcp.client.getIamPolicy>[0], asTenant);
    const bindings = [...(policy.bindings ?? []), { role: "roles/cloudkms.viewer", members: [GCP_EMULATOR_VENDOR.member] }];
    await h.gcp.client.setIamPolicy({ resource: keyName, policy: { bindings, etag: policy.etag } } as Parameters<typeof h.gcp.client.setIamPolicy>[0], asTenant);
    const { token, ciphertext } = await activeTenant("del-gcp", "gcp", keyName);
    await h.gcp.destroyVersion(keyName);
    const [version] = await h.gcp.client.getCryptoKeyVersion({ name: `${keyName}/cryptoKeyVersions/1` }, asTenant);
    expect(version.state).toBe("DESTROY_SCHEDULED");
    const destroyAt = new Date(Number(version.destroyTime!.seconds) * 1000 + Math.floor((version.destroyTime!.nanos ?? 0) / 1e6));
    await expectDeletionWindow("del-gcp", token, ciphertext, destroyAt, 30);
    await h.gcp.restoreVersion(keyName);
    await h.gcp.setVersionState(keyName, "ENABLED");
    await expectResumed("del-gcp", token, ciphertext);
  }, 90_000);

  test("Azure: a soft-deleted key locks and shows scheduledPurgeDate (GetDeletedKey); RecoverDeletedKey resumes", async () => {
    const keyUri = await h.azure.createKeyForVendor();
    // GetDeletedKey needs Key Vault Reader (deletedKeys/read); the crypto role does not have it.
    await h.azure.setVendorReader(keyUri, true);
    const { token, ciphertext } = await activeTenant("del-azure", "azure", keyUri);
    await h.azure.delete(keyUri);
    const deleted = await h.azure.keys.getDeletedKey(new URL(keyUri).pathname.split("/")[2]!);
    expect(deleted.properties.recoveryId).toContain("/deletedkeys/");
    await expectDeletionWindow("del-azure", token, ciphertext, deleted.properties.scheduledPurgeDate!, 90);
    await h.azure.recover(keyUri);
    await expectResumed("del-azure", token, ciphertext);
  }, 90_000);
});
