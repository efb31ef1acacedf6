// A wire-compatible AWS KMS emulator (HTTP/1.1, AWS JSON 1.1, full SigV4 verification) that the
// real @aws-sdk/client-kms talks to unmodified. It models what the broker's lock decisions depend
// on: per-account key ownership, grants, key policies with encryption-context conditions, key
// states, and the exact error names and messages a real endpoint returns for each.
//
// Call counting: a request is recorded once it has passed SigV4 and names a known operation, and
// before fault injection, so faulted calls (throttle, 5xx, reset, blackhole) are counted too. That
// lets a test assert how many attempts the client really made.

import { listenTracked } from "../listen";
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { CallCounter, FaultInjector, type FaultConfig } from "../faults";
import { SigV4Error, verifySigV4 } from "./sigv4";
import {
  KmsStore,
  PolicyError,
  aliasArn,
  blobKeyId,
  evaluatePolicy,
  grantAllows,
  keyArn,
  openBlob,
  parseKeyPolicy,
  sealBlob,
  type AwsPrincipal,
  type GrantConstraints,
  type KeyRecord,
} from "./store";

export type { AwsPrincipal } from "./store";

export const AWS_EMULATOR_VENDOR: AwsPrincipal = {
  accessKeyId: "AKIACMEKBROKERVENDOR",
  secretAccessKey: "emulator-vendor-secret-0000000000000000000",
  accountId: "111111111111",
  arn: "arn:aws:iam::111111111111:role/cmek-broker",
};

export const AWS_EMULATOR_DEMO_TENANT: AwsPrincipal = {
  accessKeyId: "AKIACMEKDEMOTENANT22",
  secretAccessKey: "emulator-tenant-secret-000000000000000000",
  accountId: "222222222222",
  arn: "arn:aws:iam::222222222222:user/tenant-admin",
};

export interface AwsKmsEmulator {
  url: string;
  port: number;
  region: string;
  faults: FaultInjector;
  calls: CallCounter;
  addPrincipal(p: AwsPrincipal): void;
  close(): Promise<void>;
}

export interface AwsKmsEmulatorOptions {
  /** Default 4599; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default us-east-1. Requests signed for another region are refused, as a regional endpoint does. */
  region?: string;
  /** JSON file for keys (with material), grants, aliases and principals; loaded on start. */
  stateFile?: string;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;
const GRANT_OPERATIONS = new Set([
  "Decrypt",
  "Encrypt",
  "GenerateDataKey",
  "GenerateDataKeyWithoutPlaintext",
  "ReEncryptFrom",
  "ReEncryptTo",
  "CreateGrant",
  "RetireGrant",
  "DescribeKey",
  "Sign",
  "Verify",
  "GetPublicKey",
  "GenerateDataKeyPair",
  "GenerateDataKeyPairWithoutPlaintext",
  "GenerateMac",
  "VerifyMac",
  "DeriveSharedSecret",
]);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KMS_ARN_RE = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/;

type Body = Record<string, unknown>;
type Ctx = Record<string, string> | undefined;

function validationError(member: string, constraint: string): AwsError {
  return new AwsError("ValidationException", `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`);
}

function str(body: Body, name: string, required: true): string;
function str(body: Body, name: string, required?: false): string | undefined;
function str(body: Body, name: string, required = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw validationError(lcFirst(name), "Member must not be null");
    return undefined;
  }
  if (typeof v !== "string") throw new AwsError("SerializationException", `${name} must be a string`);
  if (required && v.length === 0) throw validationError(lcFirst(name), "Member must have length greater than or equal to 1");
  return v;
}

const lcFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function blob(body: Body, name: string, min: number, max: number, required: boolean): Buffer | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw validationError(lcFirst(name), "Member must not be null");
    return undefined;
  }
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new AwsError("SerializationException", `${name} must be a base64-encoded blob`);
  }
  const b = Buffer.from(v, "base64");
  if (b.length < min) throw validationError(lcFirst(name), `Member must have length greater than or equal to ${min}`);
  if (b.length > max) throw validationError(lcFirst(name), `Member must have length less than or equal to ${max}`);
  return b;
}

function stringMap(v: unknown, name: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new AwsError("SerializationException", `${name} must be a map`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw new AwsError("SerializationException", `${name} values must be strings`);
    if (k.length === 0) throw validationError(lcFirst(name), "Map keys must have length greater than or equal to 1");
  }
  return v as Record<string, string>;
}

function checkAlgorithm(body: Body): void {
  const alg = str(body, "EncryptionAlgorithm");
  if (alg !== undefined && alg !== "SYMMETRIC_DEFAULT") {
    throw new AwsError("InvalidKeyUsageException", `The key does not support the ${alg} encryption algorithm.`);
  }
}

function metadata(k: KeyRecord) {
  return {
    AWSAccountId: k.accountId,
    KeyId: k.keyId,
    Arn: k.arn,
    CreationDate: k.creationDate,
    Enabled: k.state === "Enabled",
    Description: k.description,
    KeyUsage: "ENCRYPT_DECRYPT",
    KeyState: k.state,
    ...(k.deletionDate !== undefined ? { DeletionDate: k.deletionDate, PendingDeletionWindowInDays: k.pendingWindowInDays } : {}),
    Origin: "AWS_KMS",
    KeyManager: "CUSTOMER",
    CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
    KeySpec: "SYMMETRIC_DEFAULT",
    EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
    MultiRegion: false,
  };
}

class KmsService {
  constructor(readonly store: KmsStore) {}

  get region() {
    return this.store.region;
  }

  /** Resolves a key UUID, key ARN, alias/name or alias ARN. Bare ids and alias names resolve in the caller's account. */
  resolve(input: string, caller: AwsPrincipal): KeyRecord {
    let account = caller.accountId;
    let resource: string;
    if (input.startsWith("arn:")) {
      const m = KMS_ARN_RE.exec(input);
      if (!m) throw new AwsError("NotFoundException", `Invalid arn ${input}`);
      const [, region, acct, res] = m as unknown as [string, string, string, string];
      if (region !== this.region) throw new AwsError("NotFoundException", `Invalid arn ${region}`);
      account = acct;
      resource = res;
    } else if (input.startsWith("alias/")) {
      resource = input;
    } else if (UUID_RE.test(input)) {
      resource = `key/${input}`;
    } else {
      throw new AwsError("NotFoundException", `Invalid keyId '${input}'`);
    }

    if (resource.startsWith("alias/")) {
      const id = this.store.aliases.get(`${account} ${resource}`);
      const key = id === undefined ? undefined : this.store.keys.get(id);
      if (!key) throw new AwsError("NotFoundException", `Alias ${aliasArn(this.region, account, resource)} is not found.`);
      return key;
    }
    const id = resource.slice("key/".length);
    const key = this.store.keys.get(id);
    if (!key || key.accountId !== account) {
      throw new AwsError("NotFoundException", `Key '${keyArn(this.region, account, id)}' does not exist`);
    }
    return key;
  }

  /** Best-effort key ARN for call counting; never throws. */
  peekKeyArn(op: string, body: Body, caller: AwsPrincipal): string | undefined {
    const ref = typeof body.KeyId === "string" ? body.KeyId : typeof body.TargetKeyId === "string" ? body.TargetKeyId : undefined;
    try {
      if (ref) return this.resolve(ref, caller).arn;
      if (op === "Decrypt" && typeof body.CiphertextBlob === "string") {
        const id = blobKeyId(Buffer.from(body.CiphertextBlob, "base64"));
        return id ? this.store.keys.get(id)?.arn : undefined;
      }
    } catch {
      return ref;
    }
    return ref;
  }

  /**
   * Order: explicit Deny in the key policy, then owner account (the default policy delegates to
   * the account root), then grants, then policy Allow.
   */
  authorize(caller: AwsPrincipal, key: KeyRecord, op: string, ctx: Ctx): void {
    const decision = evaluatePolicy(parseKeyPolicy(key.policy), caller, `kms:${op}`, ctx);
    const prefix = `User: ${caller.arn} is not authorized to perform: kms:${op} on resource: ${key.arn}`;
    if (decision === "deny") throw new AwsError("AccessDeniedException", `${prefix} with an explicit deny in a resource-based policy`);
    if (caller.accountId === key.accountId) return;
    if (this.store.grantsFor(key.keyId).some((g) => grantAllows(g, caller, op, ctx))) return;
    if (decision === "allow") return;
    throw new AwsError("AccessDeniedException", `${prefix} because no resource-based policy allows the kms:${op} action`);
  }

  requireUsable(key: KeyRecord): void {
    if (key.state === "Disabled") throw new AwsError("DisabledException", `${key.arn} is disabled.`);
    if (key.state === "PendingDeletion") throw new AwsError("KMSInvalidStateException", `${key.arn} is pending deletion.`);
  }

  requireNotPendingDeletion(key: KeyRecord): void {
    if (key.state === "PendingDeletion") throw new AwsError("KMSInvalidStateException", `${key.arn} is pending deletion.`);
  }

  /** Resolve + authorize, the common prologue of every key-scoped operation. */
  key(body: Body, caller: AwsPrincipal, op: string, ctx?: Ctx): KeyRecord {
    const key = this.resolve(str(body, "KeyId", true), caller);
    this.authorize(caller, key, op, ctx);
    return key;
  }

  dispatch(op: string, body: Body, caller: AwsPrincipal): unknown {
    const s = this.store;
    switch (op) {
      case "CreateKey": {
        const usage = str(body, "KeyUsage");
        const spec = str(body, "KeySpec") ?? str(body, "CustomerMasterKeySpec");
        const origin = str(body, "Origin");
        if ((usage && usage !== "ENCRYPT_DECRYPT") || (spec && spec !== "SYMMETRIC_DEFAULT") || (origin && origin !== "AWS_KMS") || body.MultiRegion === true) {
          throw new AwsError("UnsupportedOperationException", "This emulator supports only single-region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys with origin AWS_KMS.");
        }
        const policy = str(body, "Policy");
        if (policy !== undefined) this.checkPolicy(policy);
        const description = str(body, "Description") ?? "";
        return { KeyMetadata: metadata(s.createKey(caller.accountId, description, policy)) };
      }
      case "DescribeKey":
        return { KeyMetadata: metadata(this.key(body, caller, op)) };
      case "ListKeys": {
        const keys = [...s.keys.values()].filter((k) => k.accountId === caller.accountId);
        return { Keys: keys.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), Truncated: false };
      }
      case "Encrypt": {
        const plaintext = blob(body, "Plaintext", 1, 4096, true)!;
        const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
        checkAlgorithm(body);
        const key = this.key(body, caller, op, ctx);
        this.requireUsable(key);
        this.dryRun(body);
        return { CiphertextBlob: sealBlob(key, plaintext, ctx).toString("base64"), KeyId: key.arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
      }
      case "GenerateDataKey": {
        const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
        const keySpec = str(body, "KeySpec");
        const n = body.NumberOfBytes;
        if ((keySpec === undefined) === (n === undefined || n === null)) {
          throw new AwsError("ValidationException", "Please specify either number of bytes or key spec.");
        }
        let length: number;
        if (keySpec !== undefined) {
          if (keySpec !== "AES_256" && keySpec !== "AES_128") throw validationError("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]");
          length = keySpec === "AES_256" ? 32 : 16;
        } else {
          if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 1024) throw validationError("numberOfBytes", "Member must be between 1 and 1024");
          length = n;
        }
        const key = this.key(body, caller, op, ctx);
        this.requireUsable(key);
        this.dryRun(body);
        const plaintext = randomBytes(length);
        return {
          CiphertextBlob: sealBlob(key, plaintext, ctx).toString("base64"),
          Plaintext: plaintext.toString("base64"),
          KeyId: key.arn,
        };
      }
      case "Decrypt": {
        const ct = blob(body, "CiphertextBlob", 1, 6144, true)!;
        const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
        checkAlgorithm(body);
        const embedded = blobKeyId(ct);
        const keyIdParam = str(body, "KeyId");
        let key: KeyRecord;
        if (keyIdParam !== undefined) {
          key = this.key(body, caller, op, ctx);
          this.requireUsable(key);
          if (embedded !== null && embedded !== key.keyId) {
            throw new AwsError("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.");
          }
        } else {
          // The blob carries the full key identity, so cross-account decrypt needs no KeyId.
          const found = embedded === null ? undefined : s.keys.get(embedded);
          if (!found) throw new AwsError("InvalidCiphertextException", "");
          key = found;
          this.authorize(caller, key, op, ctx);
          this.requireUsable(key);
        }
        this.dryRun(body);
        const plaintext = openBlob(key, ct, ctx);
        if (!plaintext) throw new AwsError("InvalidCiphertextException", "");
        return { Plaintext: plaintext.toString("base64"), KeyId: key.arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
      }
      case "DisableKey":
      case "EnableKey": {
        const key = this.key(body, caller, op);
        this.requireNotPendingDeletion(key);
        key.state = op === "EnableKey" ? "Enabled" : "Disabled";
        s.changed();
        return undefined;
      }
      case "ScheduleKeyDeletion": {
        const days = body.PendingWindowInDays ?? 30;
        if (typeof days !== "number" || !Number.isInteger(days) || days < 7 || days > 30) {
          throw validationError("pendingWindowInDays", "Member must have value between 7 and 30");
        }
        const key = this.key(body, caller, op);
        this.requireNotPendingDeletion(key);
        key.state = "PendingDeletion";
        key.pendingWindowInDays = days;
        key.deletionDate = Math.floor(Date.now() / 1000) + days * 86400;
        s.changed();
        return { KeyId: key.arn, DeletionDate: key.deletionDate, KeyState: key.state, PendingWindowInDays: days };
      }
      case "CancelKeyDeletion": {
        const key = this.key(body, caller, op);
        if (key.state !== "PendingDeletion") throw new AwsError("KMSInvalidStateException", `${key.arn} is not pending deletion.`);
        // Like AWS: a cancelled deletion leaves the key Disabled; the owner must EnableKey.
        key.state = "Disabled";
        delete key.deletionDate;
        delete key.pendingWindowInDays;
        s.changed();
        return { KeyId: key.arn };
      }
      case "CreateGrant": {
        const grantee = str(body, "GranteePrincipal", true);
        const retiring = str(body, "RetiringPrincipal");
        const name = str(body, "Name");
        const ops = body.Operations;
        if (!/^(arn:aws[a-z-]*:(iam|sts)::\d{12}:.+|\d{12})$/.test(grantee)) {
          throw new AwsError("ValidationException", `Invalid GranteePrincipal: ${grantee}`);
        }
        if (!Array.isArray(ops) || ops.length === 0) throw validationError("operations", "Member must have length greater than or equal to 1");
        for (const o of ops) {
          if (typeof o !== "string" || !GRANT_OPERATIONS.has(o)) throw validationError("operations", `Member must satisfy enum value set: [${[...GRANT_OPERATIONS].join(", ")}]`);
        }
        const constraints = this.constraints(body.Constraints);
        const key = this.key(body, caller, op);
        this.requireNotPendingDeletion(key);
        const { grantId, grantToken } = s.newGrantId();
        s.grants.set(grantId, {
          grantId,
          grantToken,
          keyId: key.keyId,
          ...(name !== undefined ? { name } : {}),
          granteePrincipal: grantee,
          ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
          issuingAccount: `arn:aws:iam::${caller.accountId}:root`,
          operations: [...new Set(ops as string[])],
          ...(constraints ? { constraints } : {}),
          creationDate: Date.now() / 1000,
        });
        s.changed();
        return { GrantId: grantId, GrantToken: grantToken };
      }
      case "RevokeGrant": {
        const grantId = str(body, "GrantId", true);
        const key = this.key(body, caller, op);
        const g = s.grants.get(grantId);
        if (!g || g.keyId !== key.keyId) throw new AwsError("NotFoundException", `Grant ID ${grantId} not found`);
        s.grants.delete(grantId);
        s.changed();
        return undefined;
      }
      case "ListGrants": {
        const key = this.key(body, caller, op);
        const gid = str(body, "GrantId");
        const gp = str(body, "GranteePrincipal");
        const grants = s.grantsFor(key.keyId).filter((g) => (!gid || g.grantId === gid) && (!gp || g.granteePrincipal === gp));
        return {
          Grants: grants.map((g) => ({
            KeyId: key.arn,
            GrantId: g.grantId,
            ...(g.name !== undefined ? { Name: g.name } : {}),
            CreationDate: g.creationDate,
            GranteePrincipal: g.granteePrincipal,
            ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
            IssuingAccount: g.issuingAccount,
            Operations: g.operations,
            ...(g.constraints ? { Constraints: g.constraints } : {}),
          })),
          Truncated: false,
        };
      }
      case "PutKeyPolicy":
      case "GetKeyPolicy": {
        const policyName = str(body, "PolicyName") ?? "default";
        if (policyName !== "default") throw new AwsError("NotFoundException", `Policy ${policyName} does not exist.`);
        const key = this.key(body, caller, op);
        if (op === "GetKeyPolicy") return { Policy: key.policy, PolicyName: "default" };
        const policy = str(body, "Policy", true);
        this.checkPolicy(policy);
        key.policy = policy;
        s.changed();
        return undefined;
      }
      case "CreateAlias": {
        const name = str(body, "AliasName", true);
        if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name)) throw validationError("aliasName", "Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$");
        if (name.startsWith("alias/aws/")) throw new AwsError("NotAuthorizedException", "Cannot create alias with prefix 'alias/aws/'");
        const target = str(body, "TargetKeyId", true);
        if (target.startsWith("alias/") || target.includes(":alias/")) throw new AwsError("ValidationException", "TargetKeyId must be a key ID or key ARN.");
        const key = this.resolve(target, caller);
        if (key.accountId !== caller.accountId) throw new AwsError("AccessDeniedException", `User: ${caller.arn} is not authorized to perform: kms:CreateAlias on resource: ${key.arn}`);
        const k = `${caller.accountId} ${name}`;
        if (s.aliases.has(k)) throw new AwsError("AlreadyExistsException", `An alias with the name ${aliasArn(this.region, caller.accountId, name)} already exists`);
        s.aliases.set(k, key.keyId);
        s.changed();
        return undefined;
      }
      case "DeleteAlias": {
        const name = str(body, "AliasName", true);
        if (!s.aliases.delete(`${caller.accountId} ${name}`)) throw new AwsError("NotFoundException", `Alias ${aliasArn(this.region, caller.accountId, name)} is not found.`);
        s.changed();
        return undefined;
      }
      default:
        throw new AwsError("UnknownOperationException", "");
    }
  }

  private dryRun(body: Body): void {
    if (body.DryRun === true) throw new AwsError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", 412);
  }

  private checkPolicy(policy: string): void {
    try {
      parseKeyPolicy(policy);
    } catch (e) {
      if (e instanceof PolicyError) throw new AwsError("MalformedPolicyDocumentException", e.message);
      throw e;
    }
  }

  private constraints(v: unknown): GrantConstraints | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) throw new AwsError("SerializationException", "Constraints must be an object");
    const c = v as Body;
    const eq = stringMap(c.EncryptionContextEquals, "EncryptionContextEquals");
    const sub = stringMap(c.EncryptionContextSubset, "EncryptionContextSubset");
    return { ...(eq ? { EncryptionContextEquals: eq } : {}), ...(sub ? { EncryptionContextSubset: sub } : {}) };
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP layer
// ---------------------------------------------------------------------------------------------

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType = "application/x-amz-json-1.1"): void {
  if (res.writableEnded || res.destroyed) return;
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": randomUUID(),
  });
  res.end(text);
}

function sendAwsError(res: http.ServerResponse, e: AwsError): void {
  // Real KMS sends InvalidCiphertextException (and a few others) with no message at all.
  send(res, e.status, e.message ? { __type: e.type, message: e.message } : { __type: e.type });
}

const FAULT_KEYS = new Set(["latencyMs", "errorRate", "error", "operations"]);
const FAULT_ACTIONS = new Set(["server_error", "throttle", "reset", "blackhole"]);

function parseFaultConfig(v: unknown): FaultConfig {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body must be a JSON object");
  const o = v as Body;
  for (const k of Object.keys(o)) if (!FAULT_KEYS.has(k)) throw new Error(`unknown field '${k}'`);
  if (o.latencyMs !== undefined && (typeof o.latencyMs !== "number" || !Number.isFinite(o.latencyMs))) throw new Error("latencyMs must be a number");
  if (o.errorRate !== undefined && typeof o.errorRate !== "number") throw new Error("errorRate must be a number");
  if (o.error !== undefined && (typeof o.error !== "string" || !FAULT_ACTIONS.has(o.error))) {
    throw new Error(`error must be one of ${[...FAULT_ACTIONS].join(", ")}`);
  }
  if (o.operations !== undefined && (!Array.isArray(o.operations) || o.operations.some((x) => typeof x !== "string"))) {
    throw new Error("operations must be an array of strings");
  }
  return o as FaultConfig;
}

function parsePrincipal(v: unknown): AwsPrincipal {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body must be a JSON object");
  const o = v as Body;
  const { accessKeyId, secretAccessKey, accountId, arn } = o;
  if (typeof accessKeyId !== "string" || !/^[A-Z0-9]{16,128}$/.test(accessKeyId)) throw new Error("accessKeyId must be 16-128 uppercase letters or digits");
  if (typeof secretAccessKey !== "string" || secretAccessKey.length < 1) throw new Error("secretAccessKey is required");
  if (typeof accountId !== "string" || !/^\d{12}$/.test(accountId)) throw new Error("accountId must be 12 digits");
  if (typeof arn !== "string" || !arn.startsWith(`arn:aws:iam::${accountId}:`)) throw new Error(`arn must start with arn:aws:iam::${accountId}:`);
  return { accessKeyId, secretAccessKey, accountId, arn };
}

export async function startAwsKmsEmulator(opts: AwsKmsEmulatorOptions = {}): Promise<AwsKmsEmulator> {
  const region = opts.region ?? "us-east-1";
  const host = opts.host ?? "127.0.0.1";
  const store = new KmsStore(region, opts.stateFile);
  for (const p of [AWS_EMULATOR_VENDOR, AWS_EMULATOR_DEMO_TENANT]) {
    if (!store.principalsByAkid.has(p.accessKeyId)) store.addPrincipal(p);
  }
  const service = new KmsService(store);
  const faults = new FaultInjector();
  const calls = new CallCounter();
  const lifetime = new AbortController();

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Buffer): Promise<void> {
    const json = (status: number, v: unknown) => send(res, status, v, "application/json");
    const parse = (): unknown => (body.length ? JSON.parse(body.toString("utf8")) : undefined);
    try {
      if (path === "/_emulator/faults" && req.method === "PUT") {
        faults.set(parseFaultConfig(parse()));
        return json(200, faults.current());
      }
      if (path === "/_emulator/faults" && req.method === "GET") return json(200, faults.current());
      if (path === "/_emulator/faults" && req.method === "DELETE") {
        faults.clear();
        return json(200, {});
      }
      if (path === "/_emulator/calls" && req.method === "GET") return json(200, calls.snapshot());
      if (path === "/_emulator/calls" && req.method === "DELETE") {
        calls.reset();
        return json(200, {});
      }
      if (path === "/_emulator/principals" && req.method === "POST") {
        const p = parsePrincipal(parse());
        store.addPrincipal(p);
        return json(201, { accessKeyId: p.accessKeyId, accountId: p.accountId, arn: p.arn });
      }
      return json(404, { error: `no control route ${req.method} ${path}` });
    } catch (e) {
      return json(400, { error: e instanceof Error ? e.message : String(e) });
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://emulator");
    if (body === null) return send(res, 413, { __type: "SerializationException", message: "Request body too large" });
    if (url.pathname.startsWith("/_emulator/")) return handleControl(req, res, url.pathname, body);
    if (req.method !== "POST" || url.pathname !== "/") {
      return send(res, 404, { __type: "UnknownOperationException", message: `${req.method} ${url.pathname} is not a KMS endpoint` });
    }

    let caller: AwsPrincipal;
    try {
      const akid = verifySigV4(
        { method: req.method, path: url.pathname, query: url.search.slice(1), headers: req.headers, body, region },
        (id) => store.principalsByAkid.get(id)?.secretAccessKey,
      );
      caller = store.principalsByAkid.get(akid)!;
    } catch (e) {
      if (e instanceof SigV4Error) {
        return sendAwsError(res, new AwsError(e.type, e.message));
      }
      throw e;
    }

    const target = req.headers["x-amz-target"];
    const op = typeof target === "string" && target.startsWith("TrentService.") ? target.slice("TrentService.".length) : undefined;
    if (!op) return sendAwsError(res, new AwsError("UnknownOperationException", ""));
    let parsed: Body;
    try {
      const v: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
      parsed = v as Body;
    } catch {
      return sendAwsError(res, new AwsError("SerializationException", "Start of structure or map found where not expected."));
    }

    calls.record(op, service.peekKeyArn(op, parsed, caller));

    const decision = faults.decide(op);
    if (decision.delayMs > 0) {
      try {
        await delay(decision.delayMs, undefined, { signal: lifetime.signal });
      } catch {
        req.socket.destroy();
        return;
      }
    }
    switch (decision.action) {
      case "server_error":
        return sendAwsError(res, new AwsError("KMSInternalException", "An internal error occurred.", 500));
      case "throttle":
        return sendAwsError(res, new AwsError("ThrottlingException", "Rate exceeded"));
      case "reset":
        req.socket.destroy();
        return;
      case "blackhole":
        // Never answer; close() destroys the socket.
        return;
      case "none":
        break;
    }

    try {
      const out = service.dispatch(op, parsed, caller);
      send(res, 200, out);
    } catch (e) {
      if (e instanceof AwsError) return sendAwsError(res, e);
      throw e;
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error("aws-kms-emulator: internal error", e);
      send(res, 500, { __type: "KMSInternalException", message: "Emulator internal error." });
    });
  });
  const { port, sockets } = await listenTracked(server, opts.port ?? 4599, host);
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    region,
    faults,
    calls,
    addPrincipal: (p) => store.addPrincipal(parsePrincipal(p)),
    close: async () => {
      lifetime.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      store.flush();
    },
  };
}
