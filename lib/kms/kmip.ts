// KMIP provider: wraps DEKs with a tenant's AES-256 key on its own KMIP 1.4 server (an HSM,
// Thales, Entrust, Fortanix, Vault's KMIP engine, PyKMIP in the tests) by KMIP Encrypt/Decrypt
// in AES-GCM. The broker picks the 12-byte IV, asks for a 16-byte tag and binds the wrap context
// (tenant, DEK id) as the Authenticated Encryption Additional Data.
// Wrapped form: 0x01 | IV (12) | tag (16) | ciphertext.
//
// Each tenant reaches its server with its own client identity (a certificate the broker made
// for it, registered by the tenant) and trusts only the CA it gave for that key. Both come from
// a KmipCredentialSource (the broker's database), per call, so a re-connected key or a new CA
// takes effect at once on every instance.
import { createHash, randomBytes } from "node:crypto";
import { canonicalContext } from "../crypto/canonical-context";
import { KmipClient, GCM_IV_BYTES, GCM_TAG_BYTES, type KeyAttributes } from "./kmip/client";
import { classifyKmipError, stateRevocation } from "./kmip/classify";
import { KmipConnectionPool, type KmipTlsIdentity } from "./kmip/connection";
import { formatKmipKeyRef, parseKmipKeyRef, type KmipKeyRef } from "./kmip/key-ref";
import { KmipResultError } from "./kmip/messages";
import { CryptographicAlgorithm, KEY_STATE_NAMES, KeyState, QueryFunction, ResultReason, UsageMask } from "./kmip/tags";
import { KmsError, type KeyDescription, type KmsProvider, type WrapResult } from "./types";

export interface KmipCredentialSource {
  /**
   * The client identity and server CA for a key reference, of `tenantId` when given (wrap and
   * unwrap always know it), else of the tenant that connected the key. Throws KmsError("invalid")
   * when there are none.
   */
  credentialsFor(keyRef: string, tenantId: string | undefined): Promise<KmipTlsIdentity>;
}

export interface KmipKmsProviderConfig {
  allowedHosts: readonly string[];
  credentials: KmipCredentialSource;
  /** Upper bound of one provider call (default 2000 ms). */
  timeoutMs?: number;
  /** Attempts after the first on transport failures (default 1). */
  retries?: number;
  /** Our own request refused as malformed: a broker bug (default: console.error). */
  onBug?: (message: string) => void;
}

const WRAP_FORMAT = 0x01;
const MAX_DEK_BYTES = 64;
/** The parameters every wrap uses, recorded with the key version in audit entries and DEK rows. */
export const KMIP_WRAP_PARAMETERS = "AES-256-GCM iv96 tag128";

export class KmipKmsProvider implements KmsProvider {
  readonly name = "kmip" as const;
  private readonly pool = new KmipConnectionPool();
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly onBug: (message: string) => void;

  constructor(private readonly config: KmipKmsProviderConfig) {
    this.timeoutMs = config.timeoutMs ?? 2000;
    this.retries = config.retries ?? 1;
    this.onBug = config.onBug ?? ((m) => console.error(`[kmip] BUG: ${m}`));
  }

  validateKeyRef(keyId: string): void {
    parseKmipKeyRef(keyId, this.config.allowedHosts);
  }

  canonicalKeyRef(keyId: string): string {
    return formatKmipKeyRef(parseKmipKeyRef(keyId, this.config.allowedHosts));
  }

  /** KMIP keys carry no tags the broker could read; ownership is the tenant's own client identity. */
  ownershipTags(keyId: string): Promise<Record<string, string>> {
    this.validateKeyRef(keyId);
    return Promise.resolve({});
  }

  async wrap(keyId: string, dek: Buffer, context: Record<string, string>): Promise<WrapResult> {
    if (!Buffer.isBuffer(dek) || dek.length === 0 || dek.length > MAX_DEK_BYTES) throw new KmsError("invalid", "kmip", `DEK must be 1..${MAX_DEK_BYTES} bytes`);
    const { ref, client } = await this.open(keyId, context.tenant);
    const iv = randomBytes(GCM_IV_BYTES);
    const { data, tag } = await this.run(ref, client, "Encrypt", () => client.encrypt(ref.uid, dek, iv, canonicalContext(context)));
    return { wrapped: Buffer.concat([Buffer.from([WRAP_FORMAT]), iv, tag, data]), keyVersion: keyVersionOf(ref) };
  }

  async unwrap(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<Buffer> {
    const head = 1 + GCM_IV_BYTES + GCM_TAG_BYTES;
    if (!Buffer.isBuffer(wrapped) || wrapped.length <= head || wrapped[0] !== WRAP_FORMAT) {
      throw new KmsError("invalid", "kmip", "not a KMIP-wrapped DEK (format, IV, tag, ciphertext)", { providerCode: "invalid_wrapped" });
    }
    const iv = wrapped.subarray(1, 1 + GCM_IV_BYTES);
    const tag = wrapped.subarray(1 + GCM_IV_BYTES, head);
    const body = wrapped.subarray(head);
    const { ref, client } = await this.open(keyId, context.tenant);
    return this.run(ref, client, "Decrypt", () => client.decrypt(ref.uid, body, iv, canonicalContext(context), tag));
  }

  /** KMIP has no scheduled deletion the broker could read: Destroy is immediate (Item Not Found afterwards). */
  scheduledDeletion(keyId: string): Promise<Date | null> {
    this.validateKeyRef(keyId);
    return Promise.resolve(null);
  }

  async describe(keyId: string): Promise<KeyDescription> {
    const { ref, client } = await this.open(keyId, undefined);
    const attrs = await this.run(ref, client, "Get Attributes", () => client.getAttributes(ref.uid), false);
    const problems = attributeProblems(attrs);
    const state = KEY_STATE_NAMES.get(attrs.state ?? -1) ?? `State ${attrs.state ?? "unknown"}`;
    return { enabled: attrs.state === KeyState.Active && problems.length === 0, state: problems.length ? `${state} (${problems.join(", ")})` : state, currentVersion: keyVersionOf(ref) };
  }

  /**
   * What the connect validation checks before the round trip, with the tenant's own identity:
   * the server speaks KMIP 1.4 (Discover Versions; GCM's tag and AAD need it), who it is (Query),
   * and the key is an Active AES-256 key with Encrypt and Decrypt in its usage mask (Get Attributes).
   * Returns the problems found (empty: fine); failures of the calls throw classified KmsErrors.
   */
  async inspect(keyId: string, tenantId: string): Promise<{ problems: string[]; vendor?: string; versions: string[] }> {
    const { ref, client } = await this.open(keyId, tenantId);
    const versions = (await this.run(ref, client, "Discover Versions", () => client.discoverVersions(), false)).map((v) => `${v.major}.${v.minor}`);
    const { vendor } = await this.run(ref, client, "Query", () => client.query([QueryFunction.ServerInformation]), false);
    const attrs = await this.run(ref, client, "Get Attributes", () => client.getAttributes(ref.uid), false);
    const problems = attributeProblems(attrs);
    if (!versions.some((v) => v === "1.4" || v.startsWith("2."))) problems.unshift(`the server speaks KMIP ${versions.join(", ") || "(none)"}, and AES-GCM Encrypt/Decrypt needs 1.4`);
    if (attrs.state !== KeyState.Active) problems.unshift(`the key's State is ${KEY_STATE_NAMES.get(attrs.state ?? -1) ?? "unknown"}, not Active`);
    return { problems, vendor, versions };
  }

  private async open(keyId: string, tenantId: string | undefined): Promise<{ ref: KmipKeyRef; client: KmipClient }> {
    const ref = parseKmipKeyRef(keyId, this.config.allowedHosts);
    let creds: KmipTlsIdentity;
    try {
      creds = await this.config.credentials.credentialsFor(formatKmipKeyRef(ref), tenantId);
    } catch (e) {
      if (e instanceof KmsError) throw e;
      throw new KmsError("unavailable", "kmip", `the broker could not load its KMIP credentials: ${(e as Error).message}`, { providerCode: "credentials_unavailable" });
    }
    // Sessions are pooled per server and identity: two tenants never share a TLS session.
    const poolKey = `${ref.host}:${ref.port} ${createHash("sha256").update(creds.certPem).update("\0").update(creds.caPem).digest("hex")}`;
    const client = new KmipClient({ host: ref.host, port: ref.port, ...creds }, poolKey, { timeoutMs: this.timeoutMs, retries: this.retries, pool: this.pool });
    return { ref, client };
  }

  /**
   * Runs one operation and classifies its failure. PyKMIP (and the specification's wording) answer
   * a key that is not Active with Permission Denied, exactly as they answer another owner's key; a
   * Get Attributes of the State tells them apart, so the lock names the real reason.
   */
  private async run<T>(ref: KmipKeyRef, client: KmipClient, op: string, fn: () => Promise<T>, refine = true): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = classifyKmipError(e, op);
      if (err.kind === "invalid" && /InvalidMessage|InvalidField|MissingData/.test(err.detail.providerCode ?? "")) {
        this.onBug(`${op} on ${formatKmipKeyRef(ref)} was refused as malformed (${err.detail.providerCode}): ${err.message}`);
      }
      if (refine && err.kind === "revoked" && err.reason === "access_denied" && err.detail.providerCode === "PermissionDenied") {
        // Item Not Found here: destroyed between the two calls (PyKMIP deletes destroyed objects).
        const state = await client.getAttributes(ref.uid).then(
          (a) => a.state,
          (x: unknown) => (x instanceof KmipResultError && x.reason === ResultReason.ItemNotFound ? KeyState.Destroyed : undefined),
        );
        const reason = stateRevocation(state);
        if (reason) {
          throw new KmsError("revoked", "kmip", `${err.message}; the key's State is ${KEY_STATE_NAMES.get(state!)}`, { reason, providerCode: `State:${KEY_STATE_NAMES.get(state!)}` });
        }
      }
      throw err;
    }
  }

  /** Closes idle sessions (tests, shutdown). */
  close(): void {
    this.pool.clear();
  }
}

function attributeProblems(attrs: KeyAttributes): string[] {
  const problems: string[] = [];
  if (attrs.algorithm !== undefined && attrs.algorithm !== CryptographicAlgorithm.AES) problems.push("not an AES key");
  if (attrs.length !== undefined && attrs.length !== 256) problems.push(`${attrs.length}-bit, not 256-bit`);
  if (attrs.usageMask !== undefined && (attrs.usageMask & (UsageMask.Encrypt | UsageMask.Decrypt)) !== (UsageMask.Encrypt | UsageMask.Decrypt)) problems.push("usage mask lacks Encrypt and Decrypt");
  return problems;
}

function keyVersionOf(ref: KmipKeyRef): string {
  return `${ref.uid} ${KMIP_WRAP_PARAMETERS}`;
}
