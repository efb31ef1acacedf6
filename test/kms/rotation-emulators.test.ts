// The emulators' rotation APIs, driven by the real SDKs (so the SDKs' parsers prove the response
// shapes): AWS RotateKeyOnDemand / Enable-, Disable-, GetKeyRotationStatus / ListKeyRotations and
// KeyMaterialId; Azure rotateKey and per-version state; GCP CreateCryptoKeyVersion,
// UpdateCryptoKeyPrimaryVersion, per-version state and EncryptResponse.name / used_primary.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  ListKeyRotationsCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "@/emulators/tenant-actions";
import { AzureKeyVaultProvider } from "@/lib/kms/azure";
import { GcpKmsProvider } from "@/lib/kms/gcp";
import { AZURE_EMULATOR_VENDOR } from "@/emulators/azure/server";
import { GCP_EMULATOR_VENDOR } from "@/emulators/gcp/server";

let dataDir: string;
let emu: EmulatorSet;
let aws: AwsTenantActions;
let azure: AzureTenantActions;
let gcp: GcpTenantActions;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "cmek-rot-emu-"));
  emu = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  aws = new AwsTenantActions(emu.aws.url, emu.aws.region);
  azure = new AzureTenantActions(emu.azure.vaultUrl, emu.azure.caPem, emu.azure.authorityHost);
  gcp = new GcpTenantActions("127.0.0.1", emu.gcp.grpcPort);
});

afterAll(async () => {
  aws?.close();
  await gcp?.close();
  await emu?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const ctx = { tenant: "t-1", dek: "d-1" };

describe("AWS KMS", () => {
  test("RotateKeyOnDemand makes new material current; old ciphertexts decrypt and name their material; ListKeyRotations lists it", async () => {
    const arn = await aws.createKey();
    const kms = aws.client;
    const m0 = (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.CurrentKeyMaterialId!;
    expect(m0).toMatch(/^[0-9a-f]{64}$/);
    const old = (await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from("old"), EncryptionContext: ctx }))).CiphertextBlob!;
    expect((await kms.send(new ListKeyRotationsCommand({ KeyId: arn }))).Rotations).toEqual([]);

    const m1 = await aws.rotateKey(arn);
    expect(m1).not.toBe(m0);
    const rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: arn }))).Rotations!;
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({ KeyId: arn, KeyMaterialId: m1, KeyMaterialState: "CURRENT", RotationType: "ON_DEMAND" });
    expect(rotations[0]!.RotationDate).toBeInstanceOf(Date);
    const all = (await kms.send(new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }))).Rotations!;
    expect(all.map((r) => [r.KeyMaterialId, r.KeyMaterialState])).toEqual([
      [m0, "NON_CURRENT"],
      [m1, "CURRENT"],
    ]);

    const back = await kms.send(new DecryptCommand({ CiphertextBlob: old, EncryptionContext: ctx }));
    expect(Buffer.from(back.Plaintext!).toString()).toBe("old");
    expect(back.KeyMaterialId).toBe(m0);
    const gdk = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: "AES_256", EncryptionContext: ctx }));
    expect(gdk.KeyMaterialId).toBe(m1);
    const fresh = await kms.send(new DecryptCommand({ CiphertextBlob: gdk.CiphertextBlob!, EncryptionContext: ctx }));
    expect(fresh.KeyMaterialId).toBe(m1);
  });

  test("EnableKeyRotation / GetKeyRotationStatus / DisableKeyRotation", async () => {
    const arn = await aws.createKey();
    const kms = aws.client;
    expect(await kms.send(new GetKeyRotationStatusCommand({ KeyId: arn }))).toMatchObject({ KeyRotationEnabled: false, KeyId: arn });
    await kms.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 90 }));
    const on = await kms.send(new GetKeyRotationStatusCommand({ KeyId: arn }));
    expect(on).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(on.NextRotationDate!.getTime() - Date.now()).toBeGreaterThan(89 * 86400_000);
    await expect(kms.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 30 }))).rejects.toMatchObject({ name: "ValidationException" });
    await kms.send(new DisableKeyRotationCommand({ KeyId: arn }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: arn }))).KeyRotationEnabled).toBe(false);
  });
});

describe("Azure Key Vault", () => {
  test("rotateKey: the versionless URI goes to the new version, old versions still unwrap, each version is disabled on its own", async () => {
    const uri = await azure.createKeyForVendor("RSA");
    const provider = new AzureKeyVaultProvider({
      tenantId: AZURE_EMULATOR_VENDOR.tenantId,
      clientId: AZURE_EMULATOR_VENDOR.clientId,
      clientSecret: AZURE_EMULATOR_VENDOR.clientSecret,
      authorityHost: emu.azure.authorityHost,
      allowedHostSuffixes: [new URL(uri).host],
      caPem: emu.azure.caPem,
      timeoutMs: 5000,
    });
    const v0 = (await provider.describe(uri)).currentVersion!;
    const dek = Buffer.alloc(32, 7);
    const w0 = await provider.wrap(uri, dek, {});
    expect(w0).toMatchObject({ keyVersion: v0, wrappedByKey: uri });

    const v1 = await azure.rotateKey(uri);
    expect(v1).not.toBe(v0);
    expect((await provider.describe(uri)).currentVersion).toBe(v1);
    const w1 = await provider.wrap(uri, dek, {});
    expect(w1.keyVersion).toBe(v1);
    expect((await provider.unwrap(uri, w0.wrapped, {})).equals(dek)).toBe(true);

    await azure.setVersionEnabled(uri, v0, false);
    await expect(provider.unwrap(uri, w0.wrapped, {})).rejects.toMatchObject({ kind: "revoked", detail: { reason: "disabled" } });
    expect((await provider.unwrap(uri, w1.wrapped, {})).equals(dek)).toBe(true);
    expect((await provider.describe(uri)).enabled).toBe(true);
  });
});

describe("Google Cloud KMS", () => {
  test("CreateCryptoKeyVersion is not primary until UpdateCryptoKeyPrimaryVersion; EncryptResponse.name names the version; used_primary tells old ciphertexts apart", async () => {
    const key = await gcp.createKeyForVendor();
    const provider = new GcpKmsProvider({ apiEndpoint: "127.0.0.1", port: emu.gcp.grpcPort, insecureToken: GCP_EMULATOR_VENDOR.token, timeoutMs: 5000 });
    try {
      const dek = Buffer.alloc(32, 9);
      const w1 = await provider.wrap(key, dek, ctx);
      expect(w1).toMatchObject({ keyVersion: "1", wrappedByKey: key });
      const v2 = await gcp.rotateKey(key, false);
      expect(v2).toBe(2);
      expect((await provider.wrap(key, dek, ctx)).keyVersion).toBe("1");
      expect((await provider.unwrapWithVersionCheck(key, w1.wrapped, ctx)).usedCurrentVersion).toBe(true);
      await gcp.setPrimaryVersion(key, 2);
      const w2 = await provider.wrap(key, dek, ctx);
      expect(w2.keyVersion).toBe("2");
      const old = await provider.unwrapWithVersionCheck(key, w1.wrapped, ctx);
      expect(old.plaintext.equals(dek)).toBe(true);
      expect(old.usedCurrentVersion).toBe(false);

      await gcp.setVersionState(key, "DISABLED", 1);
      await expect(provider.unwrap(key, w1.wrapped, ctx)).rejects.toMatchObject({ kind: "revoked", detail: { reason: "disabled" } });
      expect((await provider.unwrapWithVersionCheck(key, w2.wrapped, ctx)).usedCurrentVersion).toBe(true);
      await gcp.destroyVersion(key, 1);
      await expect(provider.unwrap(key, w1.wrapped, ctx)).rejects.toMatchObject({ kind: "revoked", detail: { reason: "pending_deletion" } });
      expect((await provider.unwrap(key, w2.wrapped, ctx)).equals(dek)).toBe(true);
    } finally {
      await provider.close();
    }
  });
});
