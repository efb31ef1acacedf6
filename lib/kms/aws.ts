// AWS KMS provider: wraps and unwraps DEKs with the tenant's KMS key, reached cross-account by
// ARN under the broker's own credentials (the tenant grants access by grant or key policy).

import { DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, ListResourceTagsCommand, ReEncryptCommand } from "@aws-sdk/client-kms";
import { NoResendRetryStrategy } from "./aws-retry";
import { classifyAwsError } from "./classify-aws";
import { takeSdkBytes } from "./sdk-bytes";
import { KmsError, type KeyDescription, type KmsProvider, type WrapResult } from "./types";

export interface AwsKmsProviderConfig {
  region: string;
  /** From server configuration only (e.g. AWS_ENDPOINT_URL_KMS); never from tenant input. */
  endpoint?: string;
  /** Undefined uses the SDK default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt connection timeout; an attempt that was sent waits up to timeoutMs x maxAttempts for its answer and is not re-sent (aws-retry.ts). Default 2000. */
  timeoutMs?: number;
  /** Total attempts including the first. Default 2. */
  maxAttempts?: number;
  /** The broker's own principal ARN (BROKER_AWS_PRINCIPAL_ARN): AccessDenied naming another caller is a vendor fault. */
  expectedPrincipalArn?: string;
}

const PARTITION = "aws(?:-[a-z]+)*";
const REGION = "[a-z]{2}(?:-[a-z]+)+-\\d{1,2}";
const KEY_ID = "(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})";
const ALIAS_NAME = "[a-zA-Z0-9/_-]{1,250}";
const KEY_ARN_RE = new RegExp(`^arn:${PARTITION}:kms:(${REGION}):\\d{12}:key/${KEY_ID}$`);
const ALIAS_ARN_RE = new RegExp(`^arn:${PARTITION}:kms:(${REGION}):\\d{12}:alias/${ALIAS_NAME}$`);

// Retry backoff the SDK may sleep between attempts (standard mode, throttling base 500 ms × jitter).
const BACKOFF_BUDGET_MS = 1000;
const MAX_DEK_BYTES = 64;

function invalid(message: string): KmsError {
  return new KmsError("invalid", "aws", message);
}

/** Explains precisely which part of an AWS key reference is wrong. */
function diagnoseKeyRef(keyId: string): string {
  const shown = keyId.length > 200 ? `${keyId.slice(0, 200)}…` : keyId;
  if (keyId.trim() !== keyId || /\s/.test(keyId)) return `AWS key reference must not contain whitespace: '${shown}'`;
  if (!keyId.startsWith("arn:")) {
    return `AWS key reference must be a full key ARN (arn:aws:kms:<region>:<account>:key/<key-id>) or alias ARN; bare key IDs and alias names are ambiguous across accounts: '${shown}'`;
  }
  const parts = keyId.split(":");
  if (parts.length !== 6) return `AWS key ARN must have 6 ':'-separated parts: '${shown}'`;
  const [, partition, service, region, account, resource] = parts as [string, string, string, string, string, string];
  if (!new RegExp(`^${PARTITION}$`).test(partition)) return `AWS key ARN has an invalid partition '${partition}'`;
  if (service !== "kms") return `AWS key ARN must be for service 'kms', not '${service}'`;
  if (!new RegExp(`^${REGION}$`).test(region)) return `AWS key ARN has an invalid region '${region}'`;
  if (!/^\d{12}$/.test(account)) return `AWS key ARN account must be 12 digits, got '${account}'`;
  if (resource.startsWith("key/")) {
    return `AWS key ARN key ID must be a lowercase UUID or mrk-<32 hex>, got '${resource.slice(4)}'`;
  }
  if (resource.startsWith("alias/")) {
    if (resource.startsWith("alias/aws/")) return "AWS managed keys (alias/aws/*) cannot be used as customer-managed keys";
    return `AWS alias name may contain only letters, digits, '/', '_' and '-' (1-250 characters), got '${resource.slice(6)}'`;
  }
  return `AWS key ARN resource must be 'key/<key-id>' or 'alias/<name>', got '${resource}'`;
}

export class AwsKmsProvider implements KmsProvider {
  readonly name = "aws" as const;
  private readonly clients = new Map<string, KMSClient>();
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly config: AwsKmsProviderConfig) {
    this.timeoutMs = config.timeoutMs ?? 2000;
    this.maxAttempts = config.maxAttempts ?? 2;
    if (!(this.timeoutMs > 0)) throw new Error("AwsKmsProvider: timeoutMs must be > 0");
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new Error("AwsKmsProvider: maxAttempts must be an integer >= 1");
  }

  validateKeyRef(keyId: string): void {
    if (typeof keyId !== "string" || keyId.length === 0) throw invalid("AWS key reference is empty");
    if (keyId.length > 2048) throw invalid("AWS key reference is too long");
    if (keyId.includes(":alias/aws/")) throw invalid("AWS managed keys (alias/aws/*) cannot be used as customer-managed keys");
    if (!KEY_ARN_RE.test(keyId) && !ALIAS_ARN_RE.test(keyId)) throw invalid(diagnoseKeyRef(keyId));
    // An endpoint override (emulator, VPC endpoint) serves one region; a request signed for another
    // region would fail there as a signature error, which looks like an outage instead of a bad key.
    const region = regionOf(keyId);
    if (this.config.endpoint && region !== this.config.region) {
      throw invalid(`AWS key is in region '${region}', but this broker's KMS endpoint serves region '${this.config.region}'`);
    }
  }

  /**
   * Lowercases what AWS treats case-insensitively (the ARN prefix, region, and the key id, which
   * AWS issues in lowercase); alias names are kept as given.
   */
  canonicalKeyRef(keyId: string): string {
    if (typeof keyId === "string" && /^arn:/i.test(keyId)) {
      const parts = keyId.split(":");
      if (parts.length === 6) {
        const head = parts.slice(0, 5).map((p) => p.toLowerCase());
        const resource = parts[5]!;
        const m = /^(key|alias)\/(.*)$/i.exec(resource);
        const canonicalResource = m ? (m[1]!.toLowerCase() === "key" ? `key/${m[2]!.toLowerCase()}` : `alias/${m[2]}`) : resource;
        keyId = [...head, canonicalResource].join(":");
      }
    }
    this.validateKeyRef(keyId);
    return keyId;
  }

  async ownershipTags(keyId: string): Promise<Record<string, string>> {
    this.validateKeyRef(keyId);
    // ListResourceTags takes no alias: resolve an alias ARN to its key ARN first.
    const keyArn = ALIAS_ARN_RE.test(keyId) ? ((await this.describe(keyId)).keyArn ?? keyId) : keyId;
    const tags: Record<string, string> = {};
    let marker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await this.send("ListResourceTags", keyArn, (c, abortSignal) =>
        c.send(new ListResourceTagsCommand({ KeyId: keyArn, ...(marker ? { Marker: marker } : {}) }), { abortSignal }),
      );
      for (const t of out.Tags ?? []) if (t.TagKey !== undefined) tags[t.TagKey] = t.TagValue ?? "";
      if (!out.Truncated || !out.NextMarker) break;
      marker = out.NextMarker;
    }
    return tags;
  }

  async wrap(keyId: string, dek: Buffer, context: Record<string, string>): Promise<WrapResult> {
    this.validateKeyRef(keyId);
    if (dek.length < 1 || dek.length > MAX_DEK_BYTES) throw invalid(`DEK must be 1-${MAX_DEK_BYTES} bytes`);
    const out = await this.send("Encrypt", keyId, (c, abortSignal) =>
      c.send(new EncryptCommand({ KeyId: keyId, Plaintext: dek, EncryptionContext: context }), { abortSignal }),
    );
    if (!out.CiphertextBlob) throw new KmsError("unavailable", "aws", "AWS KMS Encrypt returned no CiphertextBlob", { providerCode: "MalformedResponse" });
    const wrapped = Buffer.from(out.CiphertextBlob);
    // The SDK does not model KeyMaterialId on Encrypt (it does on Decrypt): a verifying Decrypt of
    // the new blob names the exact material, and proves the wrapped DEK can be read back before
    // anything is stored under it.
    const check = await this.send("Decrypt", keyId, (c, abortSignal) =>
      c.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: context }), { abortSignal }),
    );
    const back = check.Plaintext ? takeSdkBytes(check.Plaintext) : Buffer.alloc(0);
    const same = back.equals(dek);
    back.fill(0);
    if (!same) throw new KmsError("unavailable", "aws", "AWS KMS could not read back the DEK it just wrapped", { providerCode: "MalformedResponse" });
    return { wrapped, keyVersion: check.KeyMaterialId ?? null, wrappedByKey: out.KeyId ?? null };
  }

  async unwrap(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<Buffer> {
    this.validateKeyRef(keyId);
    if (wrapped.length === 0) throw invalid("wrapped DEK is empty");
    // Passing KeyId makes KMS refuse a ciphertext made under any other key (IncorrectKeyException),
    // so a blob cannot be redirected to a key the tenant did not register.
    const out = await this.send("Decrypt", keyId, (c, abortSignal) =>
      c.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: context }), { abortSignal }),
    );
    if (!out.Plaintext) throw new KmsError("unavailable", "aws", "AWS KMS Decrypt returned no Plaintext", { providerCode: "MalformedResponse" });
    // Copy the DEK out and wipe the SDK's own buffer, so the response object left to the garbage
    // collector holds no key material.
    return takeSdkBytes(out.Plaintext);
  }

  /**
   * ReEncrypt: AWS decrypts and re-encrypts inside KMS. Needs kms:ReEncryptFrom on the source key
   * and kms:ReEncryptTo on the destination (ReEncrypt* in a key policy); without them the caller
   * falls back to Decrypt + Encrypt.
   */
  async reencrypt(fromKeyId: string, toKeyId: string, wrapped: Buffer, fromContext: Record<string, string>, toContext: Record<string, string>): Promise<WrapResult> {
    this.validateKeyRef(fromKeyId);
    this.validateKeyRef(toKeyId);
    if (wrapped.length === 0) throw invalid("wrapped DEK is empty");
    if (regionOf(fromKeyId) !== regionOf(toKeyId)) throw invalid("ReEncrypt between regions is not used: the broker unwraps and wraps instead");
    const out = await this.send("ReEncrypt", toKeyId, (c, abortSignal) =>
      c.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceKeyId: fromKeyId,
          SourceEncryptionContext: fromContext,
          DestinationKeyId: toKeyId,
          DestinationEncryptionContext: toContext,
        }),
        { abortSignal },
      ),
    );
    if (!out.CiphertextBlob) throw new KmsError("unavailable", "aws", "AWS KMS ReEncrypt returned no CiphertextBlob", { providerCode: "MalformedResponse" });
    // DestinationKeyMaterialId: the material the DEK now depends on (the stale-DEK rule compares it with the key's current one).
    return { wrapped: Buffer.from(out.CiphertextBlob), keyVersion: out.DestinationKeyMaterialId ?? null, wrappedByKey: out.KeyId ?? null };
  }

  async describe(keyId: string): Promise<KeyDescription> {
    this.validateKeyRef(keyId);
    const out = await this.send("DescribeKey", keyId, (c, abortSignal) => c.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }));
    const md = out.KeyMetadata;
    if (!md) throw new KmsError("unavailable", "aws", "AWS KMS DescribeKey returned no KeyMetadata", { providerCode: "MalformedResponse" });
    const state = md.KeyState ?? "Unknown";
    return { enabled: md.Enabled === true && state === "Enabled", state, currentVersion: md.CurrentKeyMaterialId ?? null, keyArn: md.Arn ?? null };
  }

  async scheduledDeletion(keyId: string): Promise<Date | null> {
    this.validateKeyRef(keyId);
    const out = await this.send("DescribeKey", keyId, (c, abortSignal) => c.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }));
    const md = out.KeyMetadata;
    // DeletionDate is present only while the key is PendingDeletion (or PendingReplicaDeletion).
    return md?.KeyState?.startsWith("Pending") && md.DeletionDate ? md.DeletionDate : null;
  }

  /** Releases sockets held by the SDK's keep-alive agents. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private async send<T>(operation: string, keyId: string, call: (c: KMSClient, signal: AbortSignal) => Promise<T>): Promise<T> {
    // The per-attempt timeouts bound each try; this bounds the whole call, backoff included,
    // so a black-holed endpoint cannot hold a request past a known limit.
    const signal = AbortSignal.timeout(this.timeoutMs * this.maxAttempts + BACKOFF_BUDGET_MS);
    try {
      return await call(this.client(regionOf(keyId)), signal);
    } catch (e) {
      throw classifyAwsError(e, operation, { expectedPrincipalArn: this.config.expectedPrincipalArn });
    }
  }

  private client(region: string): KMSClient {
    let c = this.clients.get(region);
    if (!c) {
      c = new KMSClient({
        region,
        ...(this.config.endpoint ? { endpoint: this.config.endpoint } : {}),
        ...(this.config.credentials ? { credentials: this.config.credentials } : {}),
        maxAttempts: this.maxAttempts,
        retryStrategy: new NoResendRetryStrategy(this.maxAttempts),
        // Options object form: the SDK builds its NodeHttpHandler from it, so the broker does
        // not import @smithy/node-http-handler (not a direct dependency) itself.
        // throwOnRequestTimeout: without it this SDK only logs a warning when requestTimeout passes.
        // requestTimeout: an unanswered attempt is not re-sent, so it gets the time a retry would have had.
        requestHandler: { connectionTimeout: this.timeoutMs, requestTimeout: this.timeoutMs * this.maxAttempts, throwOnRequestTimeout: true },
      });
      this.clients.set(region, c);
    }
    return c;
  }
}

function regionOf(arn: string): string {
  return arn.split(":")[3]!;
}
