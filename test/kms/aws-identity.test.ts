// The AWS emulator's "valid but ungranted" identity (issue 10 #4): a broker signing with it
// authenticates, and every tenant key answers AccessDeniedException whose message names the
// caller's ARN the way real AWS does; STS GetCallerIdentity returns that same ARN, so a broker
// can tell "my own identity lacks access" from "this tenant revoked".
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AWS_EMULATOR_UNGRANTED, AWS_EMULATOR_VENDOR, type AwsPrincipal } from "../../emulators/aws/server";
import { startEmulators, type EmulatorSet } from "../../emulators/launch";
import { AwsTenantActions } from "../../emulators/tenant-actions";
import { AwsKmsProvider } from "../../lib/kms/aws";
import { KmsError } from "../../lib/kms/types";

const CTX = { tenant: "t_ident" };

let set: EmulatorSet;
let dataDir: string;
let tenant: AwsTenantActions;
let keyArn: string;
const clients: KMSClient[] = [];

/** A KMS client configured only from a brokerEnv-style environment, as a broker instance would be. */
function clientFromEnv(env: Record<string, string>): KMSClient {
  const c = new KMSClient({
    region: env.AWS_REGION!,
    endpoint: env.AWS_ENDPOINT_URL_KMS!,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<Error & { name: string }> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as Error & { name: string },
  );
}

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData) => (typeof d === "string" ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d));

/** SHA-256 for the SDK's signer, from node:crypto. */
class Sha256 {
  private readonly h;
  constructor(secret?: SourceData) {
    this.h = secret ? createHmac("sha256", bytes(secret)) : createHash("sha256");
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/** STS GetCallerIdentity over the AWS Query protocol, signed by the AWS SDK's own SigV4 signer (scope "sts"). */
async function getCallerIdentity(endpoint: string, p: Pick<AwsPrincipal, "accessKeyId" | "secretAccessKey">): Promise<{ status: number; xml: string }> {
  const url = new URL(endpoint);
  const body = "Action=GetCallerIdentity&Version=2011-06-15";
  const signer = new SignatureV4({ service: "sts", region: "us-east-1", credentials: p, sha256: Sha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: {},
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== "host"));
  const res = await fetch(endpoint, { method: "POST", headers, body });
  return { status: res.status, xml: await res.text() };
}

const xmlField = (xml: string, field: string) => new RegExp(`<${field}>([^<]*)</${field}>`).exec(xml)?.[1];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "aws-identity-"));
  set = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  tenant = new AwsTenantActions(set.aws.url, set.aws.region);
  ({ keyArn } = await tenant.createKeyForVendor());
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  tenant.close();
  await set.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("ungranted AWS identity", () => {
  test("ungrantedBrokerEnv differs from brokerEnv only in the AWS credentials", () => {
    const diff = Object.keys(set.brokerEnv).filter((k) => set.brokerEnv[k] !== set.ungrantedBrokerEnv[k]);
    expect(diff.sort()).toEqual(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    expect(set.ungrantedBrokerEnv.AWS_ACCESS_KEY_ID).toBe(AWS_EMULATOR_UNGRANTED.accessKeyId);
    expect(set.brokerEnvWithAwsIdentity(AWS_EMULATOR_VENDOR)).toEqual(set.brokerEnv);
  });

  test("the granted vendor identity can use the tenant key", async () => {
    const c = clientFromEnv(set.brokerEnv);
    const enc = await c.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.alloc(32, 1), EncryptionContext: CTX }));
    const dec = await c.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: CTX }));
    expect(Buffer.from(dec.Plaintext!).equals(Buffer.alloc(32, 1))).toBe(true);
  });

  test("Encrypt, GenerateDataKey and Decrypt answer AccessDeniedException naming the caller ARN, the operation and the key", async () => {
    const vendor = clientFromEnv(set.brokerEnv);
    const { CiphertextBlob } = await vendor.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.alloc(32, 2), EncryptionContext: CTX }));
    const ungranted = clientFromEnv(set.ungrantedBrokerEnv);
    const expected = (op: string) =>
      `User: ${AWS_EMULATOR_UNGRANTED.arn} is not authorized to perform: kms:${op} on resource: ${keyArn} because no resource-based policy allows the kms:${op} action`;

    const enc = await rejection(ungranted.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.alloc(32), EncryptionContext: CTX })));
    expect(enc.name).toBe("AccessDeniedException");
    expect(enc.message).toBe(expected("Encrypt"));
    const gdk = await rejection(ungranted.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: "AES_256", EncryptionContext: CTX })));
    expect(gdk.message).toBe(expected("GenerateDataKey"));
    const dec = await rejection(ungranted.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: CTX })));
    expect(dec.name).toBe("AccessDeniedException");
    expect(dec.message).toBe(expected("Decrypt"));
    expect(dec.message).toMatch(/^User: arn:aws:iam::\d{12}:user\/\S+ is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:/);
  });

  test("the broker's provider classifies it as access denied with the provider's error name", async () => {
    const env = set.ungrantedBrokerEnv;
    const provider = new AwsKmsProvider({
      region: env.AWS_REGION!,
      endpoint: env.AWS_ENDPOINT_URL_KMS!,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
      timeoutMs: 2000,
      maxAttempts: 1,
    });
    try {
      const e = await rejection(provider.wrap(keyArn, Buffer.alloc(32), CTX));
      expect(e).toBeInstanceOf(KmsError);
      expect((e as KmsError).detail.providerCode).toBe("AccessDeniedException");
    } finally {
      provider.destroy();
    }
  });

  test("a vendor-owned canary key works for the vendor and is denied to the ungranted identity of the same account", async () => {
    const vendor = clientFromEnv(set.brokerEnv);
    const { KeyMetadata } = await vendor.send(new CreateKeyCommand({ Description: "vendor canary" }));
    const canary = KeyMetadata!.Arn!;
    expect(KeyMetadata!.AWSAccountId).toBe(AWS_EMULATOR_UNGRANTED.accountId);
    await vendor.send(new EncryptCommand({ KeyId: canary, Plaintext: Buffer.alloc(32, 3) }));
    const e = await rejection(clientFromEnv(set.ungrantedBrokerEnv).send(new EncryptCommand({ KeyId: canary, Plaintext: Buffer.alloc(32, 3) })));
    expect(e.name).toBe("AccessDeniedException");
    expect(e.message).toBe(
      `User: ${AWS_EMULATOR_UNGRANTED.arn} is not authorized to perform: kms:Encrypt on resource: ${canary} because no resource-based policy allows the kms:Encrypt action`,
    );
  });

  test("STS GetCallerIdentity returns the same ARN the AccessDenied message names", async () => {
    const r = await getCallerIdentity(set.ungrantedBrokerEnv.AWS_ENDPOINT_URL_STS!, AWS_EMULATOR_UNGRANTED);
    expect(r.status).toBe(200);
    expect(xmlField(r.xml, "Arn")).toBe(AWS_EMULATOR_UNGRANTED.arn);
    expect(xmlField(r.xml, "Account")).toBe(AWS_EMULATOR_UNGRANTED.accountId);
    const vendor = await getCallerIdentity(set.aws.url, AWS_EMULATOR_VENDOR);
    expect(xmlField(vendor.xml, "Arn")).toBe(AWS_EMULATOR_VENDOR.arn);
  });

  test("STS refuses an unknown access key (InvalidClientTokenId) and a wrong secret (SignatureDoesNotMatch) with 403", async () => {
    const unknown = await getCallerIdentity(set.aws.url, { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" });
    expect(unknown.status).toBe(403);
    expect(xmlField(unknown.xml, "Code")).toBe("InvalidClientTokenId");
    const wrong = await getCallerIdentity(set.aws.url, { accessKeyId: AWS_EMULATOR_UNGRANTED.accessKeyId, secretAccessKey: "wrong" });
    expect(wrong.status).toBe(403);
    expect(xmlField(wrong.xml, "Code")).toBe("SignatureDoesNotMatch");
  });
});
