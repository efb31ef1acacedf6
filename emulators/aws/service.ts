// The AWS KMS service logic behind the wire: key resolution (UUID, ARN, alias, alias ARN),
// authorization (key policy, owner account, grants) with AWS's AccessDenied texts naming the
// caller's ARN, key-state checks, and one table of operations (./ops-*.ts) instead of a switch;
// server.ts composes the table, so the operations import this file and not the other way round.
import { blobKeyId } from "./blob";
import { AwsError, type Body, type Ctx, str } from "./input";
import { evaluatePolicy, grantAllows, parseKeyPolicy, PolicyError } from "./policy";
import { aliasArn, currentMaterialId, keyArn, type AwsPrincipal, type KeyRecord, type KmsStore } from "./store";

/** One KMS operation: gets the parsed body and the authenticated caller, returns the response body. */
export type Operation = (svc: KmsService, body: Body, caller: AwsPrincipal) => unknown;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KMS_ARN_RE = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/;

/** "User: <arn> is not authorized to perform: kms:<op> on resource: <key arn>", AWS's AccessDenied prefix. */
export const notAuthorized = (caller: AwsPrincipal, op: string, resource: string) =>
  `User: ${caller.arn} is not authorized to perform: kms:${op} on resource: ${resource}`;

export function metadata(k: KeyRecord) {
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
    CurrentKeyMaterialId: currentMaterialId(k),
  };
}

export class KmsService {
  constructor(
    readonly store: KmsStore,
    private readonly operations: Record<string, Operation>,
  ) {}

  get region() {
    return this.store.region;
  }

  isOperation(op: string): boolean {
    return Object.hasOwn(this.operations, op);
  }

  dispatch(op: string, body: Body, caller: AwsPrincipal): unknown {
    const run = Object.hasOwn(this.operations, op) ? this.operations[op] : undefined;
    if (!run) throw new AwsError("UnknownOperationException", "");
    return run(this, body, caller);
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
      return ref; // an unresolvable reference is still counted under the name the caller used
    }
    return ref;
  }

  /**
   * Order: explicit Deny in the key policy, then owner account (the default policy delegates to
   * the account root), then grants, then policy Allow.
   */
  authorize(caller: AwsPrincipal, key: KeyRecord, op: string, ctx: Ctx): void {
    const decision = evaluatePolicy(parseKeyPolicy(key.policy), caller, `kms:${op}`, ctx);
    const prefix = notAuthorized(caller, op, key.arn);
    if (decision === "deny") throw new AwsError("AccessDeniedException", `${prefix} with an explicit deny in a resource-based policy`);
    if (caller.accountId === key.accountId && caller.iamKmsAccess !== false) return;
    if (this.store.grantsFor(key.keyId).some((g) => grantAllows(g, caller, op, ctx))) return;
    if (decision === "allow") return;
    throw new AwsError("AccessDeniedException", `${prefix} because no resource-based policy allows the kms:${op} action`);
  }

  /** Operations AWS documents as "Cross-account use: No" (tags, aliases): only the key's own account. */
  requireOwnAccount(caller: AwsPrincipal, key: KeyRecord, op: string): void {
    if (caller.accountId !== key.accountId) throw new AwsError("AccessDeniedException", notAuthorized(caller, op, key.arn));
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

  dryRun(body: Body): void {
    if (body.DryRun === true) throw new AwsError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", 412);
  }

  checkPolicy(policy: string): void {
    try {
      parseKeyPolicy(policy);
    } catch (e) {
      if (e instanceof PolicyError) throw new AwsError("MalformedPolicyDocumentException", e.message);
      throw e;
    }
  }
}
