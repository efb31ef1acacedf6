import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListGrantsCommand,
  ListKeysCommand,
  PutKeyPolicyCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  AWS_EMULATOR_DEMO_TENANT,
  AWS_EMULATOR_VENDOR,
  startAwsKmsEmulator,
  type AwsKmsEmulator,
  type AwsPrincipal,
} from "../../emulators/aws/server";
import { AwsKmsProvider, type AwsKmsProviderConfig } from "../../lib/kms/aws";
import { classifyAwsError } from "../../lib/kms/classify-aws";
import { KmsError, type KmsErrorKind, type RevocationReason } from "../../lib/kms/types";

const REGION = "us-east-1";
const TIMEOUT_MS = 400;
const MAX_ATTEMPTS = 2;
const GRANT_OPS = ["Encrypt", "Decrypt", "DescribeKey", "GenerateDataKey"] as const;

let emu: AwsKmsEmulator;
let tenant: KMSClient;
let provider: AwsKmsProvider;
const providers: AwsKmsProvider[] = [];
const clients: KMSClient[] = [];

function clientFor(p: AwsPrincipal, extra: Partial<ConstructorParameters<typeof KMSClient>[0]> = {}, url = emu.url): KMSClient {
  const c = new KMSClient({
    region: REGION,
    endpoint: url,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    maxAttempts: 1,
    ...extra,
  });
  clients.push(c);
  return c;
}

function newProvider(over: Partial<AwsKmsProviderConfig> = {}): AwsKmsProvider {
  const p = new AwsKmsProvider({
    region: REGION,
    endpoint: emu.url,
    credentials: { accessKeyId: AWS_EMULATOR_VENDOR.accessKeyId, secretAccessKey: AWS_EMULATOR_VENDOR.secretAccessKey },
    timeoutMs: TIMEOUT_MS,
    maxAttempts: MAX_ATTEMPTS,
    ...over,
  });
  providers.push(p);
  return p;
}

/** A tenant-owned key with a grant to the broker's principal. */
async function tenantKeyWithGrant(c = tenant): Promise<{ arn: string; grantId: string }> {
  const { KeyMetadata } = await c.send(new CreateKeyCommand({ Description: "tenant CMEK" }));
  const arn = KeyMetadata!.Arn!;
  const g = await c.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: AWS_EMULATOR_VENDOR.arn, Operations: [...GRANT_OPS] }));
  return { arn, grantId: g.GrantId! };
}

async function expectKmsError(p: Promise<unknown>, kind: KmsErrorKind, reason?: RevocationReason): Promise<KmsError> {
  const e = await p.then(
    () => {
      throw new Error(`expected KmsError ${kind}, but the call succeeded`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KmsError);
  const k = e as KmsError;
  expect({ kind: k.kind, reason: k.reason, provider: k.provider }).toEqual({ kind, reason, provider: "aws" });
  expect(k.detail.providerCode).toBeTruthy();
  return k;
}

const dek = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
const ctx = { tenant: "t-123", dek: "dek-1" };

async function control(method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${emu.url}${p}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  return { status: r.status, json: await r.json() };
}

function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode!, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  emu = await startAwsKmsEmulator({ port: 0, region: REGION });
  tenant = clientFor(AWS_EMULATOR_DEMO_TENANT);
  provider = newProvider();
});

afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const c of clients) c.destroy();
  await emu?.close();
});

beforeEach(() => {
  emu.faults.clear();
  emu.calls.reset();
});

describe("access through a grant", () => {
  test("wrap, unwrap and describe a 32-byte DEK with encryption context", async () => {
    const { arn } = await tenantKeyWithGrant();
    const d = dek();
    const w = await provider.wrap(arn, d, ctx);
    // The exact key material (read back by the verifying Decrypt) and the key it belongs to.
    expect(w.keyVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(w.wrappedByKey).toBe(arn);
    expect(w.wrapped.includes(d)).toBe(false);
    expect((await provider.unwrap(arn, w.wrapped, ctx)).equals(d)).toBe(true);
    // Context is bound as a set, not as an ordered list.
    expect((await provider.unwrap(arn, w.wrapped, { dek: "dek-1", tenant: "t-123" })).equals(d)).toBe(true);
    expect(await provider.describe(arn)).toEqual({ enabled: true, state: "Enabled", currentVersion: w.keyVersion, keyArn: arn });
    expect(emu.calls.count("Encrypt", arn)).toBe(1);
    expect(emu.calls.count("Decrypt", arn)).toBe(3);
    expect(emu.calls.count("DescribeKey", arn)).toBe(1);
  });

  test("an alias ARN resolves to the key", async () => {
    const { arn } = await tenantKeyWithGrant();
    await tenant.send(new CreateAliasCommand({ AliasName: "alias/broker-cmek", TargetKeyId: arn }));
    const aliasArn = arn.replace(/key\/.*$/, "alias/broker-cmek");
    const w = await provider.wrap(aliasArn, dek(), ctx);
    expect(w.wrappedByKey).toBe(arn);
    expect((await provider.describe(aliasArn)).keyArn).toBe(arn);
    expect((await provider.describe(aliasArn)).currentVersion).toBe(w.keyVersion);
  });

  test("the broker cannot use a tenant key it was never granted, not even DescribeKey", async () => {
    const { KeyMetadata } = await tenant.send(new CreateKeyCommand({}));
    const e = await expectKmsError(provider.describe(KeyMetadata!.Arn!), "revoked", "access_denied");
    expect(e.message).toContain(
      `User: ${AWS_EMULATOR_VENDOR.arn} is not authorized to perform: kms:DescribeKey on resource: ${KeyMetadata!.Arn} because no resource-based policy allows the kms:DescribeKey action`,
    );
    await expectKmsError(provider.wrap(KeyMetadata!.Arn!, dek(), ctx), "revoked", "access_denied");
  });

  test("ListGrants shows the grant to the tenant", async () => {
    const { arn, grantId } = await tenantKeyWithGrant();
    const { Grants } = await tenant.send(new ListGrantsCommand({ KeyId: arn }));
    expect(Grants?.map((g) => [g.GrantId, g.GranteePrincipal, g.Operations?.length])).toEqual([[grantId, AWS_EMULATOR_VENDOR.arn, 4]]);
  });
});

describe("access through the key policy with an encryption-context condition", () => {
  let arn: string;
  beforeAll(async () => {
    const { KeyMetadata } = await tenant.send(new CreateKeyCommand({}));
    arn = KeyMetadata!.Arn!;
    const policy = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${AWS_EMULATOR_DEMO_TENANT.accountId}:root` }, Action: "kms:*", Resource: "*" },
        {
          Sid: "BrokerUseForThisTenantOnly",
          Effect: "Allow",
          Principal: { AWS: [AWS_EMULATOR_VENDOR.arn] },
          Action: ["kms:Encrypt", "kms:Decrypt"],
          Resource: "*",
          Condition: { StringEquals: { "kms:EncryptionContext:tenant": "t-123" } },
        },
        { Effect: "Allow", Principal: { AWS: AWS_EMULATOR_VENDOR.arn }, Action: "kms:DescribeKey", Resource: "*" },
      ],
    };
    await tenant.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: "default", Policy: JSON.stringify(policy) }));
    const got = await tenant.send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: "default" }));
    expect(JSON.parse(got.Policy!)).toEqual(policy);
  });

  test("matching context works", async () => {
    const d = dek();
    const w = await provider.wrap(arn, d, ctx);
    expect((await provider.unwrap(arn, w.wrapped, ctx)).equals(d)).toBe(true);
    expect((await provider.describe(arn)).enabled).toBe(true);
  });

  test("another tenant's context is denied", async () => {
    const e = await expectKmsError(provider.wrap(arn, dek(), { tenant: "t-999", dek: "x" }), "revoked", "access_denied");
    expect(e.detail.providerCode).toBe("AccessDeniedException");
    await expectKmsError(provider.wrap(arn, dek(), {}), "revoked", "access_denied");
  });

  test("an explicit Deny wins over the grant", async () => {
    const { arn: k } = await tenantKeyWithGrant();
    await provider.wrap(k, dek(), ctx);
    const policy = {
      Statement: [
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${AWS_EMULATOR_DEMO_TENANT.accountId}:root` }, Action: "kms:*", Resource: "*" },
        { Effect: "Deny", Principal: { AWS: AWS_EMULATOR_VENDOR.arn }, Action: "kms:Encrypt", Resource: "*" },
      ],
    };
    await tenant.send(new PutKeyPolicyCommand({ KeyId: k, PolicyName: "default", Policy: JSON.stringify(policy) }));
    const e = await expectKmsError(provider.wrap(k, dek(), ctx), "revoked", "access_denied");
    expect(e.message).toContain("with an explicit deny in a resource-based policy");
  });

  test("unsupported policy constructs are refused, not ignored", async () => {
    const bad = { Statement: [{ Effect: "Deny", Principal: "*", Action: "kms:*", Condition: { StringLike: { "aws:SourceIp": "1.2.3.4" } } }] };
    await expect(tenant.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: "default", Policy: JSON.stringify(bad) }))).rejects.toMatchObject({
      name: "MalformedPolicyDocumentException",
    });
  });
});

describe("invalid input and ciphertext", () => {
  test("wrong context and every flipped byte are invalid, never revoked", async () => {
    const { arn } = await tenantKeyWithGrant();
    const w = await provider.wrap(arn, dek(), ctx);
    const e = await expectKmsError(provider.unwrap(arn, w.wrapped, { ...ctx, tenant: "t-999" }), "invalid");
    expect(e.detail.providerCode).toBe("InvalidCiphertextException");
    await expectKmsError(provider.unwrap(arn, w.wrapped, {}), "invalid");
    const codes = new Set<string>();
    for (let i = 0; i < w.wrapped.length; i++) {
      const t = Buffer.from(w.wrapped);
      t[i]! ^= 0x01;
      codes.add((await expectKmsError(provider.unwrap(arn, t, ctx), "invalid")).detail.providerCode!);
    }
    expect([...codes].sort()).toEqual(["IncorrectKeyException", "InvalidCiphertextException"]);
  });

  test("a ciphertext from another key is refused with IncorrectKeyException", async () => {
    const a = await tenantKeyWithGrant();
    const b = await tenantKeyWithGrant();
    const w = await provider.wrap(a.arn, dek(), ctx);
    const e = await expectKmsError(provider.unwrap(b.arn, w.wrapped, ctx), "invalid");
    expect(e.detail.providerCode).toBe("IncorrectKeyException");
  });

  test("DEK size is checked before calling KMS", async () => {
    const { arn } = await tenantKeyWithGrant();
    await expect(provider.wrap(arn, Buffer.alloc(65), ctx)).rejects.toMatchObject({ kind: "invalid" });
    await expect(provider.wrap(arn, Buffer.alloc(0), ctx)).rejects.toMatchObject({ kind: "invalid" });
    expect(emu.calls.count("Encrypt")).toBe(0);
  });
});

describe("revocation is classified with its reason", () => {
  test("DisableKey → disabled; EnableKey restores", async () => {
    const { arn } = await tenantKeyWithGrant();
    const w = await provider.wrap(arn, dek(), ctx);
    await tenant.send(new DisableKeyCommand({ KeyId: arn }));
    const e = await expectKmsError(provider.unwrap(arn, w.wrapped, ctx), "revoked", "disabled");
    expect(e.detail.providerCode).toBe("DisabledException");
    expect(e.message).toContain(`${arn} is disabled.`);
    await expectKmsError(provider.wrap(arn, dek(), ctx), "revoked", "disabled");
    expect(await provider.describe(arn)).toMatchObject({ enabled: false, state: "Disabled", keyArn: arn });
    await tenant.send(new EnableKeyCommand({ KeyId: arn }));
    await provider.unwrap(arn, w.wrapped, ctx);
  });

  test("ScheduleKeyDeletion → pending_deletion; CancelKeyDeletion leaves it disabled", async () => {
    const { arn } = await tenantKeyWithGrant();
    const w = await provider.wrap(arn, dek(), ctx);
    const s = await tenant.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }));
    expect(s).toMatchObject({ KeyId: arn, KeyState: "PendingDeletion", PendingWindowInDays: 7 });
    expect(s.DeletionDate!.getTime()).toBeGreaterThan(Date.now() + 6 * 86400_000);
    const e = await expectKmsError(provider.unwrap(arn, w.wrapped, ctx), "revoked", "pending_deletion");
    expect(e.detail.providerCode).toBe("KMSInvalidStateException");
    expect((await provider.describe(arn)).state).toBe("PendingDeletion");
    await expect(tenant.send(new EnableKeyCommand({ KeyId: arn }))).rejects.toMatchObject({ name: "KMSInvalidStateException" });

    await tenant.send(new CancelKeyDeletionCommand({ KeyId: arn }));
    expect(await provider.describe(arn)).toMatchObject({ enabled: false, state: "Disabled", keyArn: arn });
    await expectKmsError(provider.unwrap(arn, w.wrapped, ctx), "revoked", "disabled");
    await tenant.send(new EnableKeyCommand({ KeyId: arn }));
    await provider.unwrap(arn, w.wrapped, ctx);
  });

  test("RevokeGrant → access_denied", async () => {
    const { arn, grantId } = await tenantKeyWithGrant();
    const w = await provider.wrap(arn, dek(), ctx);
    await tenant.send(new RevokeGrantCommand({ KeyId: arn, GrantId: grantId }));
    await expectKmsError(provider.unwrap(arn, w.wrapped, ctx), "revoked", "access_denied");
    await expectKmsError(provider.describe(arn), "revoked", "access_denied");
  });

  test("unknown key ARN → not_found", async () => {
    const arn = `arn:aws:kms:${REGION}:${AWS_EMULATOR_DEMO_TENANT.accountId}:key/00000000-0000-4000-8000-000000000000`;
    const e = await expectKmsError(provider.describe(arn), "revoked", "not_found");
    expect(e.detail.providerCode).toBe("NotFoundException");
    await expectKmsError(provider.wrap(arn.replace(/key\/.*/, "alias/nope"), dek(), ctx), "revoked", "not_found");
  });
});

describe("faults are unavailable, bounded, and recoverable", () => {
  let arn: string;
  let wrapped: Buffer;
  beforeAll(async () => {
    arn = (await tenantKeyWithGrant()).arn;
    wrapped = (await provider.wrap(arn, dek(), ctx)).wrapped;
  });

  async function timed<T>(p: Promise<T>): Promise<[T, number]> {
    const t0 = performance.now();
    const v = await p;
    return [v, performance.now() - t0];
  }

  test("latency past the provider timeout", async () => {
    const r = await control("PUT", "/_emulator/faults", { latencyMs: 2000, operations: ["Decrypt"] });
    expect(r.status).toBe(200);
    const [e, ms] = await timed(expectKmsError(provider.unwrap(arn, wrapped, ctx), "unavailable"));
    expect(["TimeoutError", "ETIMEDOUT"]).toContain(e.detail.providerCode);
    expect(ms).toBeLessThan(TIMEOUT_MS * MAX_ATTEMPTS + 1500);
    expect(emu.calls.count("Decrypt", arn)).toBeLessThanOrEqual(MAX_ATTEMPTS);
    await control("DELETE", "/_emulator/faults");
    await provider.unwrap(arn, wrapped, ctx);
  });

  test("an answer slower than the attempt timeout is waited for, not asked for twice: one Decrypt at the KMS", async () => {
    // The benchmark's cold burst: a busy broker saw the unwrap's answer late, the SDK re-sent it,
    // and the KMS counted two unwraps for one DEK. The attempt now gets the budget a retry had.
    const patient = newProvider({ timeoutMs: 1500 });
    emu.calls.reset();
    emu.faults.set({ latencyMs: 1700, operations: ["Decrypt"] });
    try {
      const out = await patient.unwrap(arn, wrapped, ctx);
      expect(out.length).toBe(32);
    } finally {
      emu.faults.clear();
    }
    expect(emu.calls.count("Decrypt", arn)).toBe(1);
  });

  test("server_error → KMSInternalException, retried at most maxAttempts times", async () => {
    emu.faults.set({ error: "server_error" });
    const e = await expectKmsError(provider.unwrap(arn, wrapped, ctx), "unavailable");
    expect(e.detail.providerCode).toBe("KMSInternalException");
    expect(emu.calls.count("Decrypt", arn)).toBe(MAX_ATTEMPTS);
    emu.faults.clear();
    await provider.unwrap(arn, wrapped, ctx);
  });

  test("throttle → ThrottlingException, retries bounded", async () => {
    emu.faults.set({ error: "throttle" });
    const e = await expectKmsError(provider.wrap(arn, dek(), ctx), "unavailable");
    expect(e.detail.providerCode).toBe("ThrottlingException");
    expect(emu.calls.count("Encrypt", arn)).toBeGreaterThanOrEqual(1);
    expect(emu.calls.count("Encrypt", arn)).toBeLessThanOrEqual(MAX_ATTEMPTS);
    const snap = await control("GET", "/_emulator/calls");
    expect((snap.json as { operations: Record<string, number> }).operations.Encrypt).toBe(emu.calls.count("Encrypt"));
    emu.faults.clear();
    await provider.wrap(arn, dek(), ctx);
  });

  test("connection reset", async () => {
    emu.faults.set({ error: "reset" });
    const e = await expectKmsError(provider.describe(arn), "unavailable");
    expect(e.detail.providerCode).toMatch(/ECONNRESET|socket hang up/i);
    emu.faults.clear();
    await provider.describe(arn);
  });

  test("blackhole returns within a bound", async () => {
    emu.faults.set({ error: "blackhole", operations: ["Decrypt"] });
    const [e, ms] = await timed(expectKmsError(provider.unwrap(arn, wrapped, ctx), "unavailable"));
    expect(["TimeoutError", "ETIMEDOUT", "AbortError"]).toContain(e.detail.providerCode);
    expect(ms).toBeLessThan(6000);
    emu.faults.clear();
    await provider.unwrap(arn, wrapped, ctx);
  });

  test("connection refused", async () => {
    const down = newProvider({ endpoint: "http://127.0.0.1:1" });
    const e = await expectKmsError(down.describe(arn), "unavailable");
    expect(e.detail.providerCode).toBe("ECONNREFUSED");
  });

  test("control endpoint rejects invalid input", async () => {
    expect((await control("PUT", "/_emulator/faults", { error: "explode" })).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", { errorRate: 2, error: "throttle" })).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", "{not json")).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", { latencyMs: 1, bogus: true })).status).toBe(400);
    expect((await control("POST", "/_emulator/principals", { accessKeyId: "x" })).status).toBe(400);
    expect(emu.faults.current()).toEqual({});
    expect((await control("DELETE", "/_emulator/calls")).status).toBe(200);
  });
});

describe("SigV4", () => {
  test("a wrong secret is the broker's fault: unavailable, never revoked", async () => {
    const { arn } = await tenantKeyWithGrant();
    const bad = newProvider({ credentials: { accessKeyId: AWS_EMULATOR_VENDOR.accessKeyId, secretAccessKey: "wrong" } });
    const e = await expectKmsError(bad.describe(arn), "unavailable");
    expect(e.detail.providerCode).toBe("InvalidSignatureException");
    // Rejected before call counting.
    expect(emu.calls.count("DescribeKey")).toBe(0);
  });

  test("an unknown access key id is UnrecognizedClientException", async () => {
    const { arn } = await tenantKeyWithGrant();
    const bad = newProvider({ credentials: { accessKeyId: "AKIAUNKNOWNUNKNOWN00", secretAccessKey: "x" } });
    const e = await expectKmsError(bad.wrap(arn, dek(), ctx), "unavailable");
    expect(e.detail.providerCode).toBe("UnrecognizedClientException");
  });

  test("a request signed 10 minutes in the past is refused", async () => {
    const skewed = clientFor(AWS_EMULATOR_DEMO_TENANT, { systemClockOffset: -10 * 60_000 });
    await expect(skewed.send(new CreateKeyCommand({}))).rejects.toMatchObject({
      name: "InvalidSignatureException",
      message: expect.stringContaining("Signature expired"),
    });
  });

  test("a tampered body is rejected; the untampered replay is accepted", async () => {
    const { arn } = await tenantKeyWithGrant();
    const capturing = clientFor(AWS_EMULATOR_DEMO_TENANT);
    let captured: { headers: Record<string, string>; body: string } | undefined;
    capturing.middlewareStack.add(
      (next) => async (args) => {
        const r = args.request as { headers: Record<string, string>; body: string | Uint8Array };
        captured = { headers: { ...r.headers }, body: typeof r.body === "string" ? r.body : new TextDecoder().decode(r.body) };
        return next(args);
      },
      { step: "deserialize" },
    );
    await capturing.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from("hello"), EncryptionContext: { a: "b" } }));
    const { headers, body } = captured!;
    expect(body).toContain('"EncryptionContext":{"a":"b"}');

    const ok = await rawPost(emu.url, headers, body);
    expect(ok.status).toBe(200);

    const tampered = body.replace('"a":"b"', '"a":"c"');
    expect(tampered.length).toBe(body.length);
    const r1 = await rawPost(emu.url, headers, tampered);
    expect(r1).toMatchObject({ status: 400, json: { __type: "InvalidSignatureException" } });

    const { createHash } = await import("node:crypto");
    const rehashed = { ...headers, "x-amz-content-sha256": createHash("sha256").update(tampered).digest("hex") };
    const r2 = await rawPost(emu.url, rehashed, tampered);
    expect(r2).toMatchObject({ status: 400, json: { __type: "InvalidSignatureException" } });

    const noAuth = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
    const r3 = await rawPost(emu.url, noAuth, body);
    expect(r3.json.__type).toBe("MissingAuthenticationTokenException");
  });

  test("a principal added through the control endpoint can sign", async () => {
    const p: AwsPrincipal = {
      accessKeyId: "AKIATHIRDTENANT33333",
      secretAccessKey: "third-secret",
      accountId: "333333333333",
      arn: "arn:aws:iam::333333333333:user/admin",
    };
    expect((await control("POST", "/_emulator/principals", p)).status).toBe(201);
    const { KeyMetadata } = await clientFor(p).send(new CreateKeyCommand({}));
    expect(KeyMetadata).toMatchObject({ AWSAccountId: "333333333333", KeyState: "Enabled", Enabled: true });
    // The demo tenant is another account: the key is invisible to it by bare key id.
    await expect(tenant.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId! }))).rejects.toMatchObject({ name: "NotFoundException" });
  });
});

describe("validateKeyRef", () => {
  const uuid = "1234abcd-12ab-34cd-56ef-1234567890ab";
  const ok = [
    `arn:aws:kms:us-east-1:222222222222:key/${uuid}`,
    `arn:aws:kms:us-east-1:222222222222:key/mrk-1234abcd12ab34cd56ef1234567890ab`,
    "arn:aws:kms:us-east-1:222222222222:alias/my-cmek",
    "arn:aws:kms:us-east-1:222222222222:alias/team/a_b-c",
  ];
  const okWithoutEndpointOverride = [
    `arn:aws:kms:eu-central-1:222222222222:key/mrk-1234abcd12ab34cd56ef1234567890ab`,
    "arn:aws-us-gov:kms:us-gov-west-1:222222222222:key/" + uuid,
    "arn:aws-cn:kms:cn-north-1:222222222222:key/" + uuid,
    "arn:aws:kms:ap-southeast-2:222222222222:alias/team/a_b-c",
  ];
  test.each(okWithoutEndpointOverride)("accepts %s when talking to real AWS", (ref) => {
    const real = new AwsKmsProvider({ region: REGION });
    expect(() => real.validateKeyRef(ref)).not.toThrow();
  });
  test("with an endpoint override, only the configured region is accepted", () => {
    const other = `arn:aws:kms:eu-west-1:222222222222:key/${uuid}`;
    expect(() => provider.validateKeyRef(other)).toThrow(/region 'eu-west-1'.*serves region 'us-east-1'/);
    const real = new AwsKmsProvider({ region: REGION, credentials: { accessKeyId: "AKIAX", secretAccessKey: "x" } });
    expect(() => real.validateKeyRef(other)).not.toThrow();
  });
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    [uuid, /full key ARN/],
    ["alias/my-cmek", /full key ARN/],
    [` arn:aws:kms:us-east-1:222222222222:key/${uuid}`, /whitespace/],
    [`arn:aws:kms:us-east-1:222222222222:key/${uuid}\n`, /whitespace/],
    [`arn:aws:s3:us-east-1:222222222222:key/${uuid}`, /service 'kms'/],
    [`arn:azure:kms:us-east-1:222222222222:key/${uuid}`, /partition/],
    [`arn:aws:kms:useast1:222222222222:key/${uuid}`, /region/],
    [`arn:aws:kms:us-east-1:2222:key/${uuid}`, /12 digits/],
    [`arn:aws:kms:us-east-1:222222222222:key/${uuid.toUpperCase()}`, /lowercase UUID/],
    ["arn:aws:kms:us-east-1:222222222222:key/mrk-xyz", /mrk/],
    ["arn:aws:kms:us-east-1:222222222222:alias/aws/s3", /AWS managed/],
    ["arn:aws:kms:us-east-1:222222222222:alias/bad name", /whitespace/],
    ["arn:aws:kms:us-east-1:222222222222:alias/bad*name", /alias name/],
    [`arn:aws:kms:us-east-1:222222222222:grant/${uuid}`, /resource must be/],
    [`arn:aws:kms:us-east-1:222222222222:key/${uuid}:extra`, /6 ':'-separated/],
    ["https://vault.azure.net/keys/k", /full key ARN/],
  ];
  test.each(ok)("accepts %s", (ref) => {
    expect(() => provider.validateKeyRef(ref)).not.toThrow();
  });
  test.each(bad)("rejects %j", (ref, why) => {
    let err: unknown;
    try {
      provider.validateKeyRef(ref);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KmsError);
    expect((err as KmsError).kind).toBe("invalid");
    expect((err as KmsError).message).toMatch(why);
  });
});

describe("classifyAwsError", () => {
  const cases: Array<[object, KmsErrorKind, RevocationReason | undefined, string]> = [
    [{ name: "DisabledException", message: "arn is disabled." }, "revoked", "disabled", "DisabledException"],
    [{ name: "DisabledException", message: "arn is pending deletion." }, "revoked", "pending_deletion", "DisabledException"],
    [{ name: "KMSInvalidStateException", message: "arn is pending deletion." }, "revoked", "pending_deletion", "KMSInvalidStateException"],
    [{ name: "KMSInvalidStateException", message: "arn is pending import." }, "revoked", "disabled", "KMSInvalidStateException"],
    [{ name: "AccessDeniedException", message: "User: x is not authorized" }, "revoked", "access_denied", "AccessDeniedException"],
    [{ name: "NotFoundException", message: "Key 'x' does not exist" }, "revoked", "not_found", "NotFoundException"],
    [{ name: "InvalidCiphertextException", message: "UnknownError" }, "invalid", undefined, "InvalidCiphertextException"],
    [{ name: "IncorrectKeyException" }, "invalid", undefined, "IncorrectKeyException"],
    [{ name: "ValidationException" }, "invalid", undefined, "ValidationException"],
    [{ name: "InvalidKeyUsageException" }, "invalid", undefined, "InvalidKeyUsageException"],
    [{ name: "ThrottlingException", $metadata: { httpStatusCode: 400 } }, "unavailable", undefined, "ThrottlingException"],
    [{ name: "KMSInternalException", $metadata: { httpStatusCode: 500 } }, "unavailable", undefined, "KMSInternalException"],
    [{ name: "DependencyTimeoutException" }, "unavailable", undefined, "DependencyTimeoutException"],
    [{ name: "KeyUnavailableException" }, "unavailable", undefined, "KeyUnavailableException"],
    [{ name: "SomethingNew", $metadata: { httpStatusCode: 503 } }, "unavailable", undefined, "SomethingNew"],
    [{ name: "SomethingNew", $metadata: { httpStatusCode: 400 } }, "unavailable", undefined, "SomethingNew"],
    [{ name: "Error", code: "ECONNREFUSED" }, "unavailable", undefined, "ECONNREFUSED"],
    [{ name: "Error", code: "EAI_AGAIN" }, "unavailable", undefined, "EAI_AGAIN"],
    [{ name: "Error", message: "socket hang up" }, "unavailable", undefined, "ECONNRESET"],
    [{ name: "TimeoutError", code: "ECONNRESET", message: "socket hang up" }, "unavailable", undefined, "ECONNRESET"],
    [{ name: "TimeoutError" }, "unavailable", undefined, "TimeoutError"],
    [{ name: "AbortError" }, "unavailable", undefined, "AbortError"],
    [{ name: "UnrecognizedClientException" }, "unavailable", undefined, "UnrecognizedClientException"],
    [{ name: "InvalidSignatureException" }, "unavailable", undefined, "InvalidSignatureException"],
    [{ name: "CredentialsProviderError" }, "unavailable", undefined, "CredentialsProviderError"],
  ];
  test.each(cases)("%j → %s/%s", (err, kind, reason, code) => {
    const k = classifyAwsError(err, "Decrypt");
    expect({ kind: k.kind, reason: k.reason, code: k.detail.providerCode }).toEqual({ kind, reason, code });
  });
  test("non-objects are unavailable", () => {
    expect(classifyAwsError("boom", "Encrypt").kind).toBe("unavailable");
    expect(classifyAwsError(undefined, "Encrypt").kind).toBe("unavailable");
  });
});

describe("emulator lifecycle", () => {
  test("close() ends black-holed and delayed requests", async () => {
    const e2 = await startAwsKmsEmulator({ port: 0 });
    const c = clientFor(AWS_EMULATOR_DEMO_TENANT, {}, e2.url);
    e2.faults.set({ error: "blackhole", operations: ["CreateKey"] });
    const hung = c.send(new CreateKeyCommand({})).then(
      () => "answered",
      (err: Error) => err.name,
    );
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => e2.calls.count("CreateKey") === 1);
    e2.faults.set({ latencyMs: 60_000, operations: ["ListKeys"] });
    const slow = c.send(new ListKeysCommand({})).then(
      () => "answered",
      (err: Error) => err.name,
    );
    await until(() => e2.calls.count("ListKeys") === 1);
    expect(e2.calls.snapshot().operations).toEqual({ CreateKey: 1, ListKeys: 1 });
    const t0 = performance.now();
    await e2.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await hung).not.toBe("answered");
    expect(await slow).not.toBe("answered");
  });
});

describe("stateFile persistence", () => {
  test("keys, grants and principals survive a restart", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "aws-kms-emu-"));
    try {
      const stateFile = path.join(dir, "state.json");
      const first = await startAwsKmsEmulator({ port: 0, stateFile });
      const p: AwsPrincipal = { accessKeyId: "AKIAPERSISTEDTENANT4", secretAccessKey: "s", accountId: "444444444444", arn: "arn:aws:iam::444444444444:user/a" };
      first.addPrincipal(p);
      const c1 = clientFor(p, {}, first.url);
      const { arn } = await tenantKeyWithGrant(c1);
      const prov1 = newProvider({ endpoint: first.url });
      const d = dek();
      const w = await prov1.wrap(arn, d, ctx);
      prov1.destroy();
      await first.close();

      const second = await startAwsKmsEmulator({ port: 0, stateFile });
      try {
        const prov2 = newProvider({ endpoint: second.url });
        expect((await prov2.unwrap(arn, w.wrapped, ctx)).equals(d)).toBe(true);
        await clientFor(p, {}, second.url).send(new DisableKeyCommand({ KeyId: arn }));
        await expectKmsError(prov2.unwrap(arn, w.wrapped, ctx), "revoked", "disabled");
        prov2.destroy();
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
