// Keys for the demo and e2e seeds that carry the ownership tag (AWS key tag, Azure key tag, GCP
// CryptoKey label cmek-broker-tenant=<tenant id>) and the permission to read it, so the seeds
// keep working when BROKER_REQUIRE_KEY_OWNERSHIP_TAG is on. Created through the tenant's own
// SDK clients, as a tenant admin would.
import { randomBytes } from "node:crypto";
import { CreateKeyCommand, GetKeyPolicyCommand, PutKeyPolicyCommand } from "@aws-sdk/client-kms";
import { AWS_EMULATOR_VENDOR } from "../emulators/aws/server";
import { GCP_EMULATOR_VENDOR } from "../emulators/gcp/server";
import type { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "../emulators/tenant-actions";
import { OWNERSHIP_TAG, ownershipTagValue } from "../lib/kms/ownership-tag";

export async function ownedAwsKey(aws: AwsTenantActions, tenantId: string): Promise<string> {
  const created = await aws.client.send(
    new CreateKeyCommand({ Description: "cmek demo key", Tags: [{ TagKey: OWNERSHIP_TAG, TagValue: ownershipTagValue(tenantId) }] }),
  );
  const arn = created.KeyMetadata!.Arn!;
  await aws.grantVendor(arn);
  // Tag reads (kms:ListResourceTags) cannot be granted by a grant, only by the key policy.
  const policy = JSON.parse((await aws.client.send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: "default" }))).Policy!) as { Statement: unknown[] };
  policy.Statement.push({ Sid: "AllowCmekBrokerTagRead", Effect: "Allow", Principal: { AWS: AWS_EMULATOR_VENDOR.arn }, Action: "kms:ListResourceTags", Resource: "*" });
  await aws.client.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: "default", Policy: JSON.stringify(policy) }));
  return arn;
}

export async function ownedAzureKey(azure: AzureTenantActions, tenantId: string): Promise<string> {
  const name = `cmek-${randomBytes(4).toString("hex")}`;
  await azure.keys.createKey(name, "RSA", { keySize: 2048, tags: { [OWNERSHIP_TAG]: ownershipTagValue(tenantId) } });
  const uri = `${azure.vaultUrl}/keys/${name}`;
  await azure.setVendorAccess(uri, true);
  return uri;
}

export async function ownedGcpKey(gcp: GcpTenantActions, tenantId: string): Promise<string> {
  const callOpts = { otherArgs: { headers: { authorization: `Bearer ${gcp.principal.token}` } } };
  const parent = `projects/${gcp.project}/locations/us-east1`;
  const ring = `ring-${randomBytes(4).toString("hex")}`;
  await gcp.client.createKeyRing({ parent, keyRingId: ring, keyRing: {} }, callOpts);
  const [key] = await gcp.client.createCryptoKey(
    { parent: `${parent}/keyRings/${ring}`, cryptoKeyId: "key", cryptoKey: { purpose: "ENCRYPT_DECRYPT", labels: { [OWNERSHIP_TAG]: ownershipTagValue(tenantId) } } },
    callOpts,
  );
  await gcp.setVendorBinding(key.name!, true);
  // Reading labels takes cloudkms.cryptoKeys.get, which cryptoKeyEncrypterDecrypter lacks.
  const [policy] = await gcp.client.getIamPolicy({ resource: key.name! } as never, callOpts);
  const bindings = [...(policy.bindings ?? []), { role: "roles/cloudkms.viewer", members: [GCP_EMULATOR_VENDOR.member] }];
  await gcp.client.setIamPolicy({ resource: key.name!, policy: { bindings, etag: policy.etag } } as never, callOpts);
  return key.name!;
}
