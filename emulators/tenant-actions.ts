// What a tenant admin does in its own cloud: create a key, grant the vendor, and revoke in
// every way the provider offers. Everything goes over the wire through the providers' real
// SDKs (Azure role assignments, which have no data-plane API, through the emulator's control
// endpoint), so tests, the demo seed and the benchmarks can drive an emulator in another process.
import { randomBytes } from "node:crypto";
import https from "node:https";
import {
  CancelKeyDeletionCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ListResourceTagsCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from "@aws-sdk/client-kms";
import { ClientSecretCredential } from "@azure/identity";
import { KeyClient } from "@azure/keyvault-keys";
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { grpc } from "google-gax";
import { AWS_EMULATOR_DEMO_TENANT, AWS_EMULATOR_VENDOR, type AwsPrincipal } from "./aws/server";
import { AZURE_EMULATOR_DEMO_TENANT, AZURE_EMULATOR_VENDOR, type AzurePrincipal } from "./azure/server";
import { GCP_EMULATOR_DEMO_TENANT, GCP_EMULATOR_VENDOR, type GcpPrincipal } from "./gcp/server";

const suffix = () => randomBytes(4).toString("hex");

/** Tags (AWS, Azure) or labels (GCP) as a plain map; each class's tagKey merges them into the key's. */
export type KeyTags = Record<string, string>;
const awsTags = (tags: KeyTags) => Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));

export class AwsTenantActions {
  readonly client: KMSClient;
  constructor(
    endpoint: string,
    region = "us-east-1",
    readonly principal: AwsPrincipal = AWS_EMULATOR_DEMO_TENANT,
  ) {
    this.client = new KMSClient({ endpoint, region, credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey }, maxAttempts: 1 });
  }

  async createKey(description = "cmek demo key", tags?: KeyTags): Promise<string> {
    const r = await this.client.send(new CreateKeyCommand({ Description: description, ...(tags ? { Tags: awsTags(tags) } : {}) }));
    return r.KeyMetadata!.Arn!;
  }

  /** TagResource: adds or overwrites these tags (e.g. the tenant id as proof of ownership). */
  async tagKey(keyArn: string, tags: KeyTags): Promise<void> {
    await this.client.send(new TagResourceCommand({ KeyId: keyArn, Tags: awsTags(tags) }));
  }

  async untagKey(keyArn: string, tagKeys: string[]): Promise<void> {
    await this.client.send(new UntagResourceCommand({ KeyId: keyArn, TagKeys: tagKeys }));
  }

  /** ListResourceTags, all pages. */
  async keyTags(keyArn: string): Promise<KeyTags> {
    const out: KeyTags = {};
    let marker: string | undefined;
    do {
      const r = await this.client.send(new ListResourceTagsCommand({ KeyId: keyArn, ...(marker ? { Marker: marker } : {}) }));
      for (const t of r.Tags ?? []) out[t.TagKey!] = t.TagValue ?? "";
      marker = r.Truncated ? r.NextMarker : undefined;
    } while (marker);
    return out;
  }

  /** Grants the broker's principal what it needs; returns the grant id for RevokeGrant. */
  async grantVendor(keyArn: string, vendorArn = AWS_EMULATOR_VENDOR.arn): Promise<string> {
    const r = await this.client.send(
      new CreateGrantCommand({ KeyId: keyArn, GranteePrincipal: vendorArn, Operations: ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"] }),
    );
    return r.GrantId!;
  }

  /** RotateKeyOnDemand; returns the new current KeyMaterialId (DescribeKey's CurrentKeyMaterialId). */
  async rotateKey(keyArn: string): Promise<string> {
    await this.client.send(new RotateKeyOnDemandCommand({ KeyId: keyArn }));
    return (await this.client.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!.CurrentKeyMaterialId!;
  }

  async createKeyForVendor(): Promise<{ keyArn: string; grantId: string }> {
    const keyArn = await this.createKey();
    return { keyArn, grantId: await this.grantVendor(keyArn) };
  }

  disable = (keyArn: string) => this.client.send(new DisableKeyCommand({ KeyId: keyArn }));
  enable = (keyArn: string) => this.client.send(new EnableKeyCommand({ KeyId: keyArn }));
  scheduleDeletion = (keyArn: string) => this.client.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
  /** Like AWS, this leaves the key disabled; enable it afterwards. */
  cancelDeletion = (keyArn: string) => this.client.send(new CancelKeyDeletionCommand({ KeyId: keyArn }));
  revokeGrant = (keyArn: string, grantId: string) => this.client.send(new RevokeGrantCommand({ KeyId: keyArn, GrantId: grantId }));

  close(): void {
    this.client.destroy();
  }
}

export class AzureTenantActions {
  readonly keys: KeyClient;
  constructor(
    readonly vaultUrl: string,
    private readonly caPem: string,
    authorityHost: string,
    principal: AzurePrincipal = AZURE_EMULATOR_DEMO_TENANT,
  ) {
    const tlsOptions = { ca: caPem };
    const credential = new ClientSecretCredential(principal.tenantId, principal.clientId, principal.clientSecret, {
      authorityHost,
      disableInstanceDiscovery: true,
      additionallyAllowedTenants: ["*"],
      tlsOptions,
    } as never);
    this.keys = new KeyClient(vaultUrl, credential, { disableChallengeResourceVerification: true, tlsOptions, retryOptions: { maxRetries: 0 } } as never);
  }

  /** Creates an RSA key (or an oct-HSM key, Managed HSM style) and returns its versionless key URI. */
  async createKey(kind: "RSA" | "oct-HSM" = "RSA", name = `cmek-${suffix()}`, tags?: KeyTags): Promise<string> {
    await this.keys.createKey(name, kind, { keySize: kind === "oct-HSM" ? 256 : 2048, ...(tags ? { tags } : {}) });
    return `${this.vaultUrl}/keys/${name}`;
  }

  /** Merges these tags into the key's current version (Key Vault's PATCH replaces the whole set). */
  async tagKey(keyUri: string, tags: KeyTags): Promise<void> {
    const current = await this.keyTags(keyUri);
    await this.keys.updateKeyProperties(keyName(keyUri), { tags: { ...current, ...tags } });
  }

  async untagKey(keyUri: string, tagKeys: string[]): Promise<void> {
    const rest = await this.keyTags(keyUri);
    for (const k of tagKeys) delete rest[k];
    await this.keys.updateKeyProperties(keyName(keyUri), { tags: rest });
  }

  async keyTags(keyUri: string): Promise<KeyTags> {
    return { ...(await this.keys.getKey(keyName(keyUri))).properties.tags };
  }

  /** Emulates the role assignment "Key Vault Crypto Service Encryption User" for the vendor on this key. */
  async setVendorAccess(keyUri: string, allowed: boolean, clientId = AZURE_EMULATOR_VENDOR.clientId): Promise<void> {
    await this.control("PUT", "/_emulator/access", { keyName: keyName(keyUri), clientId, allowed });
  }

  /** Emulates the role assignment "Key Vault Reader" (key metadata and deleted keys, no crypto) for the vendor on this key. */
  async setVendorReader(keyUri: string, allowed: boolean, clientId = AZURE_EMULATOR_VENDOR.clientId): Promise<void> {
    await this.control("PUT", "/_emulator/access", { keyName: keyName(keyUri), clientId, allowed, role: "reader" });
  }

  async createKeyForVendor(kind: "RSA" | "oct-HSM" = "RSA"): Promise<string> {
    const uri = await this.createKey(kind);
    await this.setVendorAccess(uri, true);
    return uri;
  }

  async setEnabled(keyUri: string, enabled: boolean): Promise<void> {
    await this.keys.updateKeyProperties(keyName(keyUri), { enabled });
  }

  /** rotateKey: a new current version; returns its version id. */
  async rotateKey(keyUri: string): Promise<string> {
    return (await this.keys.rotateKey(keyName(keyUri))).properties.version!;
  }

  /** Enables or disables one version only (the key's other versions keep their state). */
  async setVersionEnabled(keyUri: string, version: string, enabled: boolean): Promise<void> {
    await this.keys.updateKeyProperties(keyName(keyUri), version, { enabled });
  }

  async delete(keyUri: string): Promise<void> {
    const poller = await this.keys.beginDeleteKey(keyName(keyUri), { intervalInMs: 50 });
    await poller.pollUntilDone();
  }

  async recover(keyUri: string): Promise<void> {
    const poller = await this.keys.beginRecoverDeletedKey(keyName(keyUri), { intervalInMs: 50 });
    await poller.pollUntilDone();
  }

  private control(method: string, path: string, body: unknown): Promise<void> {
    const url = new URL(path, this.vaultUrl);
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, ca: this.caPem, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`emulator control ${path}: HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function keyName(keyUri: string): string {
  return new URL(keyUri).pathname.split("/")[2]!;
}

type GetIamReq = Parameters<KeyManagementServiceClient["getIamPolicy"]>[0];
type SetIamReq = Parameters<KeyManagementServiceClient["setIamPolicy"]>[0];

export class GcpTenantActions {
  readonly client: KeyManagementServiceClient;
  private readonly callOpts: { otherArgs: { headers: { authorization: string } } };

  constructor(
    host: string,
    port: number,
    readonly principal: GcpPrincipal = GCP_EMULATOR_DEMO_TENANT,
    readonly project = "demo-tenant-project",
  ) {
    this.client = new KeyManagementServiceClient({ apiEndpoint: host, port, sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" });
    this.callOpts = { otherArgs: { headers: { authorization: `Bearer ${principal.token}` } } };
  }

  async createKey(location = "us-east1", ring = `ring-${suffix()}`, keyId = `key-${suffix()}`, labels?: KeyTags): Promise<string> {
    const parent = `projects/${this.project}/locations/${location}`;
    await this.client.createKeyRing({ parent, keyRingId: ring, keyRing: {} }, this.callOpts).catch((e: { code?: number }) => {
      if (e.code !== 6) throw e; // ALREADY_EXISTS
    });
    const [key] = await this.client.createCryptoKey({ parent: `${parent}/keyRings/${ring}`, cryptoKeyId: keyId, cryptoKey: { purpose: "ENCRYPT_DECRYPT", ...(labels ? { labels } : {}) } }, this.callOpts);
    return key.name!;
  }

  /** Merges these labels into the key's (UpdateCryptoKey with update_mask "labels" replaces the map). */
  async tagKey(keyName: string, labels: KeyTags): Promise<void> {
    await this.writeLabels(keyName, { ...(await this.keyTags(keyName)), ...labels });
  }

  async untagKey(keyName: string, labelKeys: string[]): Promise<void> {
    const rest = await this.keyTags(keyName);
    for (const k of labelKeys) delete rest[k];
    await this.writeLabels(keyName, rest);
  }

  async keyTags(keyName: string): Promise<KeyTags> {
    const [key] = await this.client.getCryptoKey({ name: keyName }, this.callOpts);
    return { ...(key.labels ?? {}) };
  }

  private async writeLabels(keyName: string, labels: KeyTags): Promise<void> {
    await this.client.updateCryptoKey({ cryptoKey: { name: keyName, labels }, updateMask: { paths: ["labels"] } }, this.callOpts);
  }

  async setVendorBinding(keyName: string, present: boolean, member = GCP_EMULATOR_VENDOR.member): Promise<void> {
    const [policy] = await this.client.getIamPolicy({ resource: keyName } as GetIamReq, this.callOpts);
    const role = "roles/cloudkms.cryptoKeyEncrypterDecrypter";
    const others = (policy.bindings ?? []).filter((b) => b.role !== role).map((b) => ({ role: b.role!, members: b.members ?? [] }));
    const current = (policy.bindings ?? []).find((b) => b.role === role)?.members?.filter((m) => m !== member) ?? [];
    const members = present ? [...current, member] : current;
    const bindings = members.length ? [...others, { role, members }] : others;
    await this.client.setIamPolicy({ resource: keyName, policy: { bindings, etag: policy.etag } } as SetIamReq, this.callOpts);
  }

  async createKeyForVendor(): Promise<string> {
    const name = await this.createKey();
    await this.setVendorBinding(name, true);
    return name;
  }

  async setVersionState(keyName: string, state: "ENABLED" | "DISABLED", version = 1): Promise<void> {
    await this.client.updateCryptoKeyVersion({ cryptoKeyVersion: { name: `${keyName}/cryptoKeyVersions/${version}`, state }, updateMask: { paths: ["state"] } }, this.callOpts);
  }

  /** CreateCryptoKeyVersion, then (unless told not to) UpdateCryptoKeyPrimaryVersion to it; returns the new version id. */
  async rotateKey(keyName: string, makePrimary = true): Promise<number> {
    const [v] = await this.client.createCryptoKeyVersion({ parent: keyName, cryptoKeyVersion: {} }, this.callOpts);
    const id = Number(v.name!.split("/").pop());
    if (makePrimary) await this.setPrimaryVersion(keyName, id);
    return id;
  }

  async setPrimaryVersion(keyName: string, version: number): Promise<void> {
    await this.client.updateCryptoKeyPrimaryVersion({ name: keyName, cryptoKeyVersionId: String(version) }, this.callOpts);
  }

  async destroyVersion(keyName: string, version = 1): Promise<void> {
    await this.client.destroyCryptoKeyVersion({ name: `${keyName}/cryptoKeyVersions/${version}` }, this.callOpts);
  }

  /** Restored versions come back DISABLED, as in Cloud KMS; enable afterwards. */
  async restoreVersion(keyName: string, version = 1): Promise<void> {
    await this.client.restoreCryptoKeyVersion({ name: `${keyName}/cryptoKeyVersions/${version}` }, this.callOpts);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
