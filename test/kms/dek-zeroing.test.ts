// Issue 10 #19 (part): the DEK the AWS and Azure SDKs decode from a response lives in their own
// Uint8Array; the providers copy it out and wipe that array. The tests watch the real SDK calls
// (the methods are wrapped to keep a reference to the response, then call through) and check the
// SDK's array is all zeros once the provider has returned its own copy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KMSClient } from "@aws-sdk/client-kms";
import { CryptographyClient } from "@azure/keyvault-keys";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AWS_EMULATOR_VENDOR } from "@/emulators/aws/server";
import { AZURE_EMULATOR_VENDOR } from "@/emulators/azure/server";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions, AzureTenantActions } from "@/emulators/tenant-actions";
import { AwsKmsProvider } from "@/lib/kms/aws";
import { AzureKeyVaultProvider } from "@/lib/kms/azure";

let dataDir: string;
let emu: EmulatorSet;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "cmek-zero-"));
  emu = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
}, 60_000);
afterAll(async () => {
  await emu?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("SDK buffers holding an unwrapped DEK are zeroed", () => {
  test("AWS: Decrypt's Plaintext array is all zeros after unwrap returns the DEK", async () => {
    const tenant = new AwsTenantActions(emu.aws.url, emu.aws.region);
    const { keyArn } = await tenant.createKeyForVendor();
    tenant.close();
    const provider = new AwsKmsProvider({
      region: emu.aws.region,
      endpoint: emu.aws.url,
      credentials: { accessKeyId: AWS_EMULATOR_VENDOR.accessKeyId, secretAccessKey: AWS_EMULATOR_VENDOR.secretAccessKey },
    });
    const dek = randomBytes(32);
    const { wrapped } = await provider.wrap(keyArn, dek, { tenant: "t" });
    const seen: Uint8Array[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, restored below; the wrapper calls it with .apply(this)
    const send = KMSClient.prototype.send;
    KMSClient.prototype.send = async function (this: KMSClient, ...args: Parameters<KMSClient["send"]>) {
      const out = (await (send as (...a: unknown[]) => Promise<{ Plaintext?: Uint8Array }>).apply(this, args)) as { Plaintext?: Uint8Array };
      if (out?.Plaintext) seen.push(out.Plaintext);
      return out;
    } as KMSClient["send"];
    try {
      const back = await provider.unwrap(keyArn, wrapped, { tenant: "t" });
      expect(back.equals(dek)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.length).toBe(32);
      expect(seen[0]!.every((b) => b === 0)).toBe(true);
      // The returned DEK is the broker's own memory, not a view of the wiped array.
      expect(back.buffer).not.toBe(seen[0]!.buffer);
    } finally {
      KMSClient.prototype.send = send;
      provider.destroy();
    }
  }, 30_000);

  test("Azure: unwrapKey's result array is all zeros after unwrap returns the DEK", async () => {
    const tenant = new AzureTenantActions(emu.azure.vaultUrl, emu.azure.caPem, emu.azure.authorityHost);
    const keyUri = await tenant.createKeyForVendor("RSA");
    const provider = new AzureKeyVaultProvider({
      tenantId: AZURE_EMULATOR_VENDOR.tenantId,
      clientId: AZURE_EMULATOR_VENDOR.clientId,
      clientSecret: AZURE_EMULATOR_VENDOR.clientSecret,
      authorityHost: emu.azure.authorityHost,
      allowedHostSuffixes: [`localhost:${emu.azure.port}`],
      caPem: emu.azure.caPem,
      timeoutMs: 5000,
    });
    const dek = randomBytes(32);
    const { wrapped } = await provider.wrap(keyUri, dek, {});
    const seen: Uint8Array[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, restored below; the wrapper calls it with .apply(this)
    const unwrapKey = CryptographyClient.prototype.unwrapKey;
    CryptographyClient.prototype.unwrapKey = async function (this: CryptographyClient, ...args: Parameters<CryptographyClient["unwrapKey"]>) {
      const res = await unwrapKey.apply(this, args);
      seen.push(res.result);
      return res;
    };
    try {
      const back = await provider.unwrap(keyUri, wrapped, {});
      expect(back.equals(dek)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.length).toBe(32);
      expect(seen[0]!.every((b) => b === 0)).toBe(true);
    } finally {
      CryptographyClient.prototype.unwrapKey = unwrapKey;
    }
  }, 30_000);
});
