// Issue 10 #11, proof of ownership: with BROKER_REQUIRE_KEY_OWNERSHIP_TAG=on a key is connected
// only when its owner bound it to the tenant: the tag (Azure) or label (GCP)
// cmek-broker-tenant=<tenant id>, and on AWS (where tags cannot be read across accounts) a grant
// or key-policy condition binding the encryption context's tenant to the tenant's id.
import { CreateKeyCommand, CreateGrantCommand } from "@aws-sdk/client-kms";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AWS_EMULATOR_VENDOR } from "@/emulators/aws/server";
import { GCP_EMULATOR_VENDOR } from "@/emulators/gcp/server";
import { awsGrants, azureGrants, gcpGrants, type ConnectInfo } from "@/components/tenant/grant-text";
import type { Json } from "@/testkit/api-client";
import { startHarness, type Harness } from "../support/broker-harness";

const TAG = "cmek-broker-tenant";
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_REQUIRE_KEY_OWNERSHIP_TAG: "on" });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

async function newTenant(slug: string): Promise<string> {
  await h.api.createTenant(slug);
  return (await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.id as string;
}

function expectOwnershipRefusal(r: { status: number; body: Json }, tenantId: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(422);
  expect(r.body.error.code).toBe("grant_invalid");
  expect(r.body.error.step).toBe("ownership");
  expect(r.body.error.message).toContain(`${TAG}=${tenantId}`);
}

describe("ownership tag required", () => {
  test("Azure: an untagged key or one tagged for another tenant is refused naming the tag; the tagged key connects", async () => {
    const id = await newTenant("own-azure");
    const other = await newTenant("own-azure-other");
    const make = async (tags?: Record<string, string>) => {
      const name = `own-${randomBytes(4).toString("hex")}`;
      await h.azure.keys.createKey(name, "RSA", { keySize: 2048, ...(tags ? { tags } : {}) });
      const uri = `${h.azure.vaultUrl}/keys/${name}`;
      await h.azure.setVendorAccess(uri, true);
      return uri;
    };
    expectOwnershipRefusal(await h.api.connect("own-azure", "azure", await make()), id);
    expectOwnershipRefusal(await h.api.connect("own-azure", "azure", await make({ [TAG]: other })), id);
    const ok = await h.api.connect("own-azure", "azure", await make({ [TAG]: id }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.validation.steps[0]).toMatchObject({ step: "ownership", ok: true });
  }, 60_000);

  test("GCP: a CryptoKey without the label is refused naming it; the labelled key connects", async () => {
    const id = await newTenant("own-gcp");
    const callOpts = { otherArgs: { headers: { authorization: `Bearer ${h.gcp.principal.token}` } } };
    const make = async (labels?: Record<string, string>) => {
      const parent = `projects/${h.gcp.project}/locations/us-east1`;
      const ring = `ring-${randomBytes(4).toString("hex")}`;
      await h.gcp.client.createKeyRing({ parent, keyRingId: ring, keyRing: {} }, callOpts);
      const [key] = await h.gcp.client.createCryptoKey(
        { parent: `${parent}/keyRings/${ring}`, cryptoKeyId: "key", cryptoKey: { purpose: "ENCRYPT_DECRYPT", ...(labels ? { labels } : {}) } },
        callOpts,
      );
      await h.gcp.setVendorBinding(key.name!, true);
      // Reading labels takes cloudkms.cryptoKeys.get, which cryptoKeyEncrypterDecrypter lacks.
      const [policy] = await h.gcp.client.getIamPolicy({ resource: key.name! } as never, callOpts);
      const bindings = [...(policy.bindings ?? []), { role: "roles/cloudkms.viewer", members: [GCP_EMULATOR_VENDOR.member] }];
      await h.gcp.client.setIamPolicy({ resource: key.name!, policy: { bindings, etag: policy.etag } } as never, callOpts);
      return key.name!;
    };
    expectOwnershipRefusal(await h.api.connect("own-gcp", "gcp", await make()), id);
    const ok = await h.api.connect("own-gcp", "gcp", await make({ [TAG]: id }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.validation.steps[0]).toMatchObject({ step: "ownership", ok: true });
  }, 60_000);

  test("AWS (tags are not readable across accounts): a grant bound to another tenant's id or to none is refused at the ownership step; one bound to this tenant's id connects", async () => {
    const id = await newTenant("own-aws");
    const other = await newTenant("own-aws-other");
    const make = async (boundTo: string | null) => {
      const arn = (await h.aws.client.send(new CreateKeyCommand({ Description: "tenant CMEK" }))).KeyMetadata!.Arn!;
      await h.aws.client.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: AWS_EMULATOR_VENDOR.arn,
          Operations: ["Encrypt", "Decrypt", "DescribeKey", "GenerateDataKey"],
          ...(boundTo ? { Constraints: { EncryptionContextSubset: { tenant: boundTo } } } : {}),
        }),
      );
      return arn;
    };
    const unbound = await h.api.connect("own-aws", "aws", await make(null));
    expect(unbound.status, JSON.stringify(unbound.body)).toBe(422);
    expect(unbound.body.error.step).toBe("ownership");
    expect(unbound.body.error.reason).toBe("ownership_not_bound");
    expect(unbound.body.error.message).toContain(`kms:EncryptionContext:tenant = ${id}`);
    // Bound to another tenant: the ownership probe is refused, but so is this tenant's own round trip.
    const foreign = await h.api.connect("own-aws", "aws", await make(other));
    expect(foreign.status, JSON.stringify(foreign.body)).toBe(422);
    expect(foreign.body.error.code).toBe("grant_invalid");
    const ok = await h.api.connect("own-aws", "aws", await make(id));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.validation.steps[0]).toMatchObject({ step: "ownership", ok: true });
  }, 60_000);
});

describe("grant instructions", () => {
  test("bind the key to the tenant's id for every provider: AWS by the grant's encryption-context condition, Azure by tag, GCP by label", () => {
    const info: ConnectInfo = {
      tenantId: "7a1c2b9e-0000-4000-8000-00000000abcd",
      slug: "acme",
      aws: { principal: AWS_EMULATOR_VENDOR.arn, region: "us-east-1" },
      azure: { appId: null, allowedHosts: [] },
      gcp: { serviceAccount: null },
      pkcs11: { enabled: false },
      kmip: { allowedHosts: [], clientCertificate: null },
    };
    const tagLine = `${TAG}=${info.tenantId}`;
    const aws = awsGrants(info, "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    // On AWS the tenant-bound condition is the proof: every snippet binds the tenant's id.
    expect(aws.find((g) => g.testId === "grant-aws-policy")!.code).toContain(`"kms:EncryptionContext:tenant": "${info.tenantId}"`);
    expect(aws.find((g) => g.testId === "grant-aws-cli")!.code).toContain(`EncryptionContextSubset={tenant=${info.tenantId}}`);
    expect(aws.some((g) => g.code.includes("ListResourceTags"))).toBe(false);
    expect(azureGrants(info, "https://v.vault.azure.net/keys/k").find((g) => g.testId === "grant-azure-tag")!.code).toContain(tagLine);
    expect(gcpGrants(info, "projects/p-12345/locations/l/keyRings/r/cryptoKeys/k").find((g) => g.testId === "grant-gcp-label")!.code).toContain(`--update-labels ${tagLine}`);
  });
});
