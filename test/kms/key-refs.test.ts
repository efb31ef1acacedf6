// Issue 10 #11 (without tags): key references are stored in their provider's canonical form, and
// a key connected to one tenant cannot be connected by another (409 key_in_use, without naming
// the other tenant), whichever spelling of the reference is used.
import { CreateAliasCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AwsKmsProvider } from "@/lib/kms/aws";
import { AzureKeyVaultProvider } from "@/lib/kms/azure";
import { GcpKmsProvider } from "@/lib/kms/gcp";
import { startHarness, type Harness } from "../support/broker-harness";

const UUID = "1234abcd-12ab-34cd-56ef-1234567890ab";
const VERSION = "0123456789abcdef0123456789abcdef";

describe("canonical key references", () => {
  const aws = new AwsKmsProvider({ region: "us-east-1" });
  const azure = new AzureKeyVaultProvider({
    credential: { getToken: () => Promise.resolve(null) },
    allowedHostSuffixes: [".vault.azure.net", "localhost:4598"],
  });
  const gcp = new GcpKmsProvider({ apiEndpoint: "127.0.0.1", port: 1, insecureToken: "unused" });
  afterAll(async () => {
    aws.destroy();
    await gcp.close();
  });

  test("AWS: ARN prefix, region and key id are lowercased; alias names are kept; the result validates", () => {
    const arn = `arn:aws:kms:us-east-1:111122223333:key/${UUID}`;
    expect(aws.canonicalKeyRef(arn)).toBe(arn);
    expect(aws.canonicalKeyRef(`ARN:AWS:KMS:US-EAST-1:111122223333:KEY/${UUID.toUpperCase()}`)).toBe(arn);
    expect(aws.canonicalKeyRef("arn:aws:kms:us-east-1:111122223333:alias/Tenant-Key")).toBe("arn:aws:kms:us-east-1:111122223333:alias/Tenant-Key");
    expect(() => aws.canonicalKeyRef(UUID)).toThrow(/full key ARN/);
  });

  test("Azure: lowercase scheme and host, default port and leading zeros dropped, trailing slash dropped, version kept", () => {
    expect(azure.canonicalKeyRef("HTTPS://MyVault.Vault.Azure.NET:443/keys/tenant-key/")).toBe("https://myvault.vault.azure.net/keys/tenant-key");
    expect(azure.canonicalKeyRef("HTTPS://LOCALHOST:04598/keys/k1")).toBe("https://localhost:4598/keys/k1");
    expect(azure.canonicalKeyRef(`https://localhost:4598/keys/k1/${VERSION}/`)).toBe(`https://localhost:4598/keys/k1/${VERSION}`);
    expect(() => azure.canonicalKeyRef("https://evil.example/keys/k1")).toThrow(/not allowed/);
  });

  test("GCP: full resource names and stray slashes reduce to the bare resource name", () => {
    const name = "projects/tenant-proj/locations/us-east1/keyRings/ring/cryptoKeys/key";
    expect(gcp.canonicalKeyRef(name)).toBe(name);
    expect(gcp.canonicalKeyRef(`//cloudkms.googleapis.com/${name}`)).toBe(name);
    expect(gcp.canonicalKeyRef(`/${name}/`)).toBe(name);
    expect(() => gcp.canonicalKeyRef(`${name}/cryptoKeyVersions/1`)).toThrow(/CryptoKeyVersion/);
  });
});

describe("one key, one tenant", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  async function owner(slug: string, provider: string, keyId: string) {
    await h.api.createTenant(slug);
    const r = await h.api.connect(slug, provider, keyId);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r;
  }

  async function expectInUse(slug: string, provider: string, keyId: string, ownerSlug: string) {
    const r = await h.api.connect(slug, provider, keyId);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("key_in_use");
    expect(JSON.stringify(r.body)).not.toContain(ownerSlug);
    const ownerId = (await h.api.admin("GET", `/api/v1/tenants/${ownerSlug}`)).body.tenant.id as string;
    expect(JSON.stringify(r.body)).not.toContain(ownerId);
  }

  test("AWS: another tenant gets 409 key_in_use for the same key, by key ARN in any case or by an alias of it", async () => {
    const { keyArn } = await h.aws.createKeyForVendor();
    await owner("aws-owner", "aws", keyArn);
    await h.api.createTenant("aws-thief");
    await expectInUse("aws-thief", "aws", keyArn, "aws-owner");
    await expectInUse("aws-thief", "aws", keyArn.toUpperCase().replace("ARN:AWS:KMS:US-EAST-1", "arn:aws:kms:us-east-1"), "aws-owner");
    await h.aws.client.send(new CreateAliasCommand({ AliasName: "alias/owner-key", TargetKeyId: keyArn }));
    await expectInUse("aws-thief", "aws", keyArn.replace(/key\/.*$/, "alias/owner-key"), "aws-owner");
    // The owner itself may connect its own key again.
    expect((await h.api.connect("aws-owner", "aws", keyArn)).status).toBe(200);
    const thief = await h.api.admin("GET", "/api/v1/tenants/aws-thief");
    expect(thief.body).toMatchObject({ tenant: { state: "pending" }, key: null });
  }, 60_000);

  test("Azure: the key is stored canonically and refused to another tenant under a non-canonical or versioned spelling", async () => {
    const uri = await h.azure.createKeyForVendor();
    const port = new URL(uri).port;
    const shouted = uri.replace("https://localhost:", "HTTPS://LOCALHOST:0");
    const r = await owner("azure-owner", "azure", `${shouted}/`);
    expect(r.body.key.keyId).toBe(uri);
    expect(new URL(r.body.key.keyId).port).toBe(port);
    const name = uri.split("/").pop()!;
    const version = (await h.azure.keys.getKey(name)).properties.version!;
    await h.api.createTenant("azure-thief");
    await expectInUse("azure-thief", "azure", uri, "azure-owner");
    await expectInUse("azure-thief", "azure", `${uri}/${version}`, "azure-owner");
  }, 60_000);

  test("GCP: another tenant gets 409 for the same CryptoKey given as a full resource name", async () => {
    const name = await h.gcp.createKeyForVendor();
    await owner("gcp-owner", "gcp", name);
    await h.api.createTenant("gcp-thief");
    await expectInUse("gcp-thief", "gcp", name, "gcp-owner");
    await expectInUse("gcp-thief", "gcp", `//cloudkms.googleapis.com/${name}`, "gcp-owner");
  }, 60_000);
});
