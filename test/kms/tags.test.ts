// Key tags (AWS, Azure) and labels (GCP) in the emulators, driven through the real SDK clients
// (directly and through the TenantActions helpers): what a broker needs to check a key carries the
// tenant id as proof of ownership (issue 10 #11).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  CreateGrantCommand,
  CreateKeyCommand,
  KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  TagException,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AWS_EMULATOR_DEMO_TENANT, AWS_EMULATOR_VENDOR, startAwsKmsEmulator, type AwsKmsEmulator, type AwsPrincipal } from "../../emulators/aws/server";
import { AZURE_EMULATOR_VENDOR, startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from "../../emulators/azure/server";
import { GCP_EMULATOR_VENDOR, startGcpKmsEmulator, type GcpKmsEmulator } from "../../emulators/gcp/server";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "../../emulators/tenant-actions";

const REGION = "us-east-1";

async function rejection(p: Promise<unknown>): Promise<Error & { name: string; code?: number; statusCode?: number }> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as Error & { name: string; code?: number; statusCode?: number },
  );
}

describe("AWS key tags", () => {
  let emu: AwsKmsEmulator;
  let tenant: AwsTenantActions;
  const clients: KMSClient[] = [];
  const client = (p: AwsPrincipal) => {
    const c = new KMSClient({ region: REGION, endpoint: emu.url, credentials: p, maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    emu = await startAwsKmsEmulator({ port: 0, region: REGION });
    tenant = new AwsTenantActions(emu.url, REGION);
  });
  afterAll(async () => {
    tenant.close();
    for (const c of clients) c.destroy();
    await emu.close();
  });

  test("CreateKey Tags are listed by ListResourceTags as TagKey/TagValue pairs", async () => {
    const arn = await tenant.createKey("tagged", { "cmek-broker-tenant": "t_123", team: "" });
    const r = await client(AWS_EMULATOR_DEMO_TENANT).send(new ListResourceTagsCommand({ KeyId: arn }));
    expect(r.Tags).toEqual([
      { TagKey: "cmek-broker-tenant", TagValue: "t_123" },
      { TagKey: "team", TagValue: "" },
    ]);
    expect(r.Truncated).toBe(false);
  });

  test("TagResource adds and overwrites, UntagResource removes (tagKey / untagKey / keyTags)", async () => {
    const arn = await tenant.createKey();
    expect(await tenant.keyTags(arn)).toEqual({});
    await tenant.tagKey(arn, { a: "1", b: "2" });
    await tenant.tagKey(arn, { b: "3" });
    expect(await tenant.keyTags(arn)).toEqual({ a: "1", b: "3" });
    await tenant.untagKey(arn, ["a", "missing"]);
    expect(await tenant.keyTags(arn)).toEqual({ b: "3" });
  });

  test("ListResourceTags pages with Limit, Truncated and NextMarker", async () => {
    const arn = await tenant.createKey("paged", { k1: "v1", k2: "v2", k3: "v3" });
    const c = client(AWS_EMULATOR_DEMO_TENANT);
    const first = await c.send(new ListResourceTagsCommand({ KeyId: arn, Limit: 2 }));
    expect(first.Tags?.map((t) => t.TagKey)).toEqual(["k1", "k2"]);
    expect(first.Truncated).toBe(true);
    const second = await c.send(new ListResourceTagsCommand({ KeyId: arn, Limit: 2, Marker: first.NextMarker }));
    expect(second.Tags?.map((t) => t.TagKey)).toEqual(["k3"]);
    expect(second.Truncated).toBe(false);
    expect(await tenant.keyTags(arn)).toEqual({ k1: "v1", k2: "v2", k3: "v3" });
  });

  test("reserved aws: tag keys are refused with TagException; an empty TagKey with ValidationException", async () => {
    const c = client(AWS_EMULATOR_DEMO_TENANT);
    const arn = await tenant.createKey();
    const reserved = await rejection(c.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: "aws:owner", TagValue: "x" }] })));
    expect(reserved).toBeInstanceOf(TagException);
    const empty = await rejection(c.send(new CreateKeyCommand({ Tags: [{ TagKey: "", TagValue: "x" }] })));
    expect(empty.name).toBe("ValidationException");
  });

  test("tags cannot be read or written from another account, even with a grant (Cross-account use: No)", async () => {
    const arn = await tenant.createKey("cross", { owner: "tenant" });
    await client(AWS_EMULATOR_DEMO_TENANT).send(
      new CreateGrantCommand({ KeyId: arn, GranteePrincipal: AWS_EMULATOR_VENDOR.arn, Operations: ["Encrypt", "Decrypt", "DescribeKey"] }),
    );
    const e = await rejection(client(AWS_EMULATOR_VENDOR).send(new ListResourceTagsCommand({ KeyId: arn })));
    expect(e.name).toBe("AccessDeniedException");
    expect(e.message).toBe(`User: ${AWS_EMULATOR_VENDOR.arn} is not authorized to perform: kms:ListResourceTags on resource: ${arn}`);
    const w = await rejection(client(AWS_EMULATOR_VENDOR).send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: "owner", TagValue: "vendor" }] })));
    expect(w.name).toBe("AccessDeniedException");
    expect(await tenant.keyTags(arn)).toEqual({ owner: "tenant" });
  });

  test("a key pending deletion keeps its tags readable but refuses TagResource", async () => {
    const arn = await tenant.createKey("doomed", { a: "1" });
    await client(AWS_EMULATOR_DEMO_TENANT).send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }));
    const e = await rejection(tenant.tagKey(arn, { b: "2" }));
    expect(e.name).toBe("KMSInvalidStateException");
    expect(await tenant.keyTags(arn)).toEqual({ a: "1" });
  });

  test("tags survive a restart with a state file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "aws-tags-"));
    const stateFile = path.join(dir, "aws.json");
    try {
      const e1 = await startAwsKmsEmulator({ port: 0, stateFile });
      const t1 = new AwsTenantActions(e1.url);
      const arn = await t1.createKey("persisted", { tenant: "t_1" });
      t1.close();
      await e1.close();
      const e2 = await startAwsKmsEmulator({ port: 0, stateFile });
      const t2 = new AwsTenantActions(e2.url);
      expect(await t2.keyTags(arn)).toEqual({ tenant: "t_1" });
      t2.close();
      await e2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Azure key tags", () => {
  let emu: AzureKeyVaultEmulator;
  let tenant: AzureTenantActions;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "azure-tags-"));
    emu = await startAzureKeyVaultEmulator({ port: 0, dataDir });
    tenant = new AzureTenantActions(emu.vaultUrl, emu.caPem, emu.authorityHost);
  });
  afterAll(async () => {
    await emu.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("tags given on create are returned on get", async () => {
    const uri = await tenant.createKey("RSA", undefined, { "cmek-broker-tenant": "t_9" });
    const key = await tenant.keys.getKey(new URL(uri).pathname.split("/")[2]!);
    expect(key.properties.tags).toEqual({ "cmek-broker-tenant": "t_9" });
  });

  test("the vendor holding the crypto role on the key reads its tags (get is part of the role); without it, 403", async () => {
    const uri = await tenant.createKey("RSA", undefined, { "cmek-broker-tenant": "t_10" });
    const vendor = new AzureTenantActions(emu.vaultUrl, emu.caPem, emu.authorityHost, AZURE_EMULATOR_VENDOR);
    expect((await rejection(vendor.keyTags(uri))).statusCode).toBe(403);
    await tenant.setVendorAccess(uri, true);
    expect(await vendor.keyTags(uri)).toEqual({ "cmek-broker-tenant": "t_10" });
    // The role does not include write: the vendor cannot forge the tag.
    expect((await rejection(vendor.tagKey(uri, { "cmek-broker-tenant": "forged" }))).statusCode).toBe(403);
  });

  test("PATCH replaces the tag set; tagKey merges and untagKey removes through it", async () => {
    const uri = await tenant.createKey("oct-HSM");
    const name = new URL(uri).pathname.split("/")[2]!;
    const updated = await tenant.keys.updateKeyProperties(name, { tags: { a: "1", b: "2" } });
    expect(updated.properties.tags).toEqual({ a: "1", b: "2" });
    await tenant.tagKey(uri, { b: "3", c: "4" });
    expect(await tenant.keyTags(uri)).toEqual({ a: "1", b: "3", c: "4" });
    await tenant.untagKey(uri, ["a"]);
    expect(await tenant.keyTags(uri)).toEqual({ b: "3", c: "4" });
    // Updating another property leaves the tags alone.
    await tenant.setEnabled(uri, true);
    expect(await tenant.keyTags(uri)).toEqual({ b: "3", c: "4" });
  });

  test("non-string tag values and more than 15 tags are refused with 400 BadParameter", async () => {
    const uri = await tenant.createKey("RSA");
    const name = new URL(uri).pathname.split("/")[2]!;
    const bad = await rejection(tenant.keys.updateKeyProperties(name, { tags: { a: 5 } as never }));
    expect(bad.statusCode).toBe(400);
    expect((bad as { code?: unknown }).code).toBe("BadParameter");
    const many = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, "v"]));
    expect((await rejection(tenant.keys.updateKeyProperties(name, { tags: many }))).statusCode).toBe(400);
    expect(await tenant.keyTags(uri)).toEqual({});
  });
});

describe("GCP CryptoKey labels", () => {
  let emu: GcpKmsEmulator;
  let tenant: GcpTenantActions;
  let vendor: GcpTenantActions;

  beforeAll(async () => {
    emu = await startGcpKmsEmulator({ port: 0, controlPort: 0 });
    tenant = new GcpTenantActions("127.0.0.1", emu.grpcPort);
    vendor = new GcpTenantActions("127.0.0.1", emu.grpcPort, GCP_EMULATOR_VENDOR);
  });
  afterAll(async () => {
    await tenant.close();
    await vendor.close();
    await emu.close();
  });

  test("labels given on CreateCryptoKey are returned by GetCryptoKey", async () => {
    const name = await tenant.createKey(undefined, undefined, undefined, { "cmek-broker-tenant": "t_42" });
    const [key] = await tenant.client.getCryptoKey({ name }, { otherArgs: { headers: { authorization: `Bearer ${tenant.principal.token}` } } });
    expect(key.labels).toEqual({ "cmek-broker-tenant": "t_42" });
  });

  test("UpdateCryptoKey with update_mask labels replaces the map; tagKey merges, untagKey removes", async () => {
    const name = await tenant.createKey();
    const opts = { otherArgs: { headers: { authorization: `Bearer ${tenant.principal.token}` } } };
    const [updated] = await tenant.client.updateCryptoKey({ cryptoKey: { name, labels: { a: "1", b: "2" } }, updateMask: { paths: ["labels"] } }, opts);
    expect(updated.labels).toEqual({ a: "1", b: "2" });
    await tenant.tagKey(name, { b: "3", c: "4" });
    expect(await tenant.keyTags(name)).toEqual({ a: "1", b: "3", c: "4" });
    await tenant.untagKey(name, ["a"]);
    expect(await tenant.keyTags(name)).toEqual({ b: "3", c: "4" });
  });

  test("invalid label keys, a missing or unsupported update_mask → INVALID_ARGUMENT", async () => {
    const name = await tenant.createKey();
    const opts = { otherArgs: { headers: { authorization: `Bearer ${tenant.principal.token}` } } };
    const badKey = await rejection(tenant.client.updateCryptoKey({ cryptoKey: { name, labels: { Upper: "x" } }, updateMask: { paths: ["labels"] } }, opts));
    expect(badKey.code).toBe(3);
    expect(badKey.message).toContain("Label key 'Upper' violates format constraints");
    expect((await rejection(tenant.client.updateCryptoKey({ cryptoKey: { name, labels: { a: "1" } }, updateMask: { paths: [] } }, opts))).code).toBe(3);
    expect((await rejection(tenant.client.updateCryptoKey({ cryptoKey: { name, purpose: "MAC" }, updateMask: { paths: ["purpose"] } }, opts))).code).toBe(3);
    expect(await tenant.keyTags(name)).toEqual({});
  });

  test("the vendor reads labels only with a role that has cryptoKeys.get (e.g. roles/cloudkms.viewer), as in real IAM", async () => {
    const name = await tenant.createKey(undefined, undefined, undefined, { "cmek-broker-tenant": "t_11" });
    await tenant.setVendorBinding(name, true);
    expect((await rejection(vendor.keyTags(name))).code).toBe(7);
    const opts = { otherArgs: { headers: { authorization: `Bearer ${tenant.principal.token}` } } };
    const [policy] = await tenant.client.getIamPolicy({ resource: name } as never, opts);
    const bindings = [...(policy.bindings ?? []).map((b) => ({ role: b.role!, members: b.members ?? [] })), { role: "roles/cloudkms.viewer", members: [GCP_EMULATOR_VENDOR.member] }];
    await tenant.client.setIamPolicy({ resource: name, policy: { bindings, etag: policy.etag } } as never, opts);
    expect(await vendor.keyTags(name)).toEqual({ "cmek-broker-tenant": "t_11" });
  });

  test("the vendor with the encrypter/decrypter role cannot change labels (PERMISSION_DENIED)", async () => {
    const name = await tenant.createKeyForVendor();
    const opts = { otherArgs: { headers: { authorization: `Bearer ${GCP_EMULATOR_VENDOR.token}` } } };
    const e = await rejection(
      vendor.client.updateCryptoKey({ cryptoKey: { name, labels: { "cmek-broker-tenant": "forged" } }, updateMask: { paths: ["labels"] } }, opts),
    );
    expect(e.code).toBe(7);
    expect(e.message).toContain("cloudkms.cryptoKeys.update");
    expect(await tenant.keyTags(name)).toEqual({});
  });
});
