// Google Cloud KMS provider: wraps DEKs with a tenant's symmetric CryptoKey through the official
// gRPC client, binds the broker's context as additionalAuthenticatedData, checks CRC32C end to end
// (the client library never does), and sorts every failure into revoked / unavailable / invalid.
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { grpc } from "google-gax";
import { crc32c, int64ValueToNumber } from "./crc32c";
import { classifyGcpError } from "./classify-gcp";
import { KmsError, type KeyDescription, type KmsProvider, type UnwrapWithVersionCheck, type WrapResult } from "./types";

export { classifyGcpError } from "./classify-gcp";

export interface GcpKmsProviderConfig {
  /** Host only (e.g. "127.0.0.1"); comes from server configuration, never from tenant input. */
  apiEndpoint?: string;
  port?: number;
  /** Emulator only: plaintext gRPC, with this static token sent as `authorization: Bearer` per call. */
  insecureToken?: string;
  /** Deadline of each attempt in ms (default 2000). */
  timeoutMs?: number;
  /** Retries after the first attempt for UNAVAILABLE / DEADLINE_EXCEEDED (default 1). */
  maxRetries?: number;
}

const PROJECT_RE = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
const LOCATION_RE = /^[a-z0-9-]{1,63}$/;
const ID_RE = /^[a-zA-Z0-9_-]{1,63}$/;

const MAX_DEK_BYTES = 64;
// Real KMS ciphertexts for ≤ 64-byte plaintexts are a few hundred bytes; anything huge is not ours.
const MAX_WRAPPED_BYTES = 64 * 1024;

/** Sorted-key JSON, so the same context always yields the same AAD bytes. */
export function canonicalContext(context: Record<string, string>): Buffer {
  const keys = Object.keys(context).sort();
  const obj: Record<string, string> = {};
  for (const k of keys) {
    const v = context[k];
    if (typeof v !== "string") throw new KmsError("invalid", "gcp", `context value for "${k}" must be a string`);
    obj[k] = v;
  }
  return Buffer.from(JSON.stringify(obj), "utf8");
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === "string") return Buffer.from(v, "base64");
  return Buffer.alloc(0);
}

const integrityError = (what: string, providerCode = "crc32c_mismatch") =>
  new KmsError("unavailable", "gcp", `GCP KMS response failed integrity check: ${what}`, { providerCode });

type CallOptions = {
  timeout: number;
  maxRetries: number;
  otherArgs?: { headers: Record<string, string> };
};

export class GcpKmsProvider implements KmsProvider {
  readonly name = "gcp" as const;
  private readonly client: KeyManagementServiceClient;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly token?: string;

  constructor(config: GcpKmsProviderConfig = {}) {
    this.timeoutMs = config.timeoutMs ?? 2000;
    this.maxRetries = config.maxRetries ?? 1;
    if (!(this.timeoutMs > 0)) throw new Error("timeoutMs must be > 0");
    if (!(Number.isInteger(this.maxRetries) && this.maxRetries >= 0)) throw new Error("maxRetries must be an integer >= 0");
    if (config.insecureToken !== undefined) {
      if (!config.insecureToken) throw new Error("insecureToken must not be empty");
      this.token = config.insecureToken;
      // With explicit sslCreds gax skips google-auth entirely (no ADC, no authorization header), and a
      // fixed universeDomain stops it probing the GCE metadata server on first use.
      this.client = new KeyManagementServiceClient({
        apiEndpoint: config.apiEndpoint ?? "127.0.0.1",
        ...(config.port !== undefined ? { port: config.port } : {}),
        sslCreds: grpc.credentials.createInsecure(),
        universeDomain: "googleapis.com",
      });
    } else {
      this.client = new KeyManagementServiceClient({
        ...(config.apiEndpoint ? { apiEndpoint: config.apiEndpoint } : {}),
        ...(config.port !== undefined ? { port: config.port } : {}),
      });
    }
  }

  /** Per-call bounds. gax's defaults retry UNAVAILABLE for up to 600 s, which would stall every request behind a dead endpoint. */
  private callOptions(): CallOptions {
    // gax counts attempts, not retries, in `maxRetries` (1 = a single attempt) and treats 0 as
    // "unbounded", so translate. Setting maxRetries also drops gax's total timeout, leaving
    // `timeout` as the deadline of each attempt.
    const opts: CallOptions = { timeout: this.timeoutMs, maxRetries: this.maxRetries + 1 };
    if (this.token) opts.otherArgs = { headers: { authorization: `Bearer ${this.token}` } };
    return opts;
  }

  /** Hard ceiling in case something outside the RPC (e.g. token fetch in ADC mode) hangs. */
  private async bounded<T>(p: Promise<T> & { cancel?: () => void }): Promise<T> {
    const budget = (this.maxRetries + 1) * this.timeoutMs + 100 * (this.maxRetries + 1) * 2 + 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            p.cancel?.();
            reject(Object.assign(new Error(`GCP KMS call exceeded ${budget} ms`), { code: 4 }));
          }, budget);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  validateKeyRef(keyId: string): void {
    const bad = (why: string): never => {
      throw new KmsError("invalid", "gcp", `Invalid GCP CryptoKey reference: ${why}. Expected projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>.`);
    };
    if (typeof keyId !== "string" || keyId.length === 0) bad("empty");
    if (/\s/.test(keyId)) bad("contains whitespace");
    if (keyId.length > 400) bad("too long");
    const parts = keyId.split("/");
    if (parts.includes("cryptoKeyVersions")) bad("names a CryptoKeyVersion; register the CryptoKey itself so rotation keeps working");
    if (parts.length !== 8) bad(`has ${parts.length} path segments instead of 8`);
    const [p, project, l, location, r, ring, c, key] = parts as [string, string, string, string, string, string, string, string];
    if (p !== "projects" || l !== "locations" || r !== "keyRings" || c !== "cryptoKeys") bad("segment names must be projects/locations/keyRings/cryptoKeys");
    if (!PROJECT_RE.test(project)) bad(`project id "${project}" must be 6-30 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`);
    if (!LOCATION_RE.test(location)) bad(`location "${location}" must be lowercase letters, digits and hyphens`);
    if (!ID_RE.test(ring)) bad(`key ring "${ring}" must be 1-63 characters of letters, digits, "_" and "-"`);
    if (!ID_RE.test(key)) bad(`crypto key "${key}" must be 1-63 characters of letters, digits, "_" and "-"`);
  }

  /**
   * The bare resource name: a full resource name (//cloudkms.googleapis.com/projects/...), a
   * leading or trailing slash are dropped. Resource names are case-sensitive and kept as given.
   */
  canonicalKeyRef(keyId: string): string {
    if (typeof keyId === "string") {
      keyId = keyId.replace(/^\/\/cloudkms\.googleapis\.com\//i, "").replace(/^\/(?=projects\/)/, "").replace(/\/$/, "");
    }
    this.validateKeyRef(keyId);
    return keyId;
  }

  async ownershipTags(keyId: string): Promise<Record<string, string>> {
    this.validateKeyRef(keyId);
    try {
      const [key] = await this.bounded(this.client.getCryptoKey({ name: keyId }, this.callOptions()));
      return { ...((key.labels as Record<string, string> | null | undefined) ?? {}) };
    } catch (e) {
      throw classifyGcpError(e, keyId);
    }
  }

  async wrap(keyId: string, dek: Buffer, context: Record<string, string>): Promise<WrapResult> {
    this.validateKeyRef(keyId);
    if (!Buffer.isBuffer(dek) || dek.length === 0 || dek.length > MAX_DEK_BYTES) {
      throw new KmsError("invalid", "gcp", `DEK must be 1-${MAX_DEK_BYTES} bytes`);
    }
    const aad = canonicalContext(context);
    let res;
    try {
      [res] = await this.bounded(
        this.client.encrypt(
          {
            name: keyId,
            plaintext: dek,
            additionalAuthenticatedData: aad,
            plaintextCrc32c: { value: crc32c(dek) },
            additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
          },
          this.callOptions(),
        ),
      );
    } catch (e) {
      throw classifyGcpError(e, keyId);
    }
    if (res.verifiedPlaintextCrc32c !== true) throw integrityError("plaintext checksum was not verified by the service");
    if (res.verifiedAdditionalAuthenticatedDataCrc32c !== true) throw integrityError("AAD checksum was not verified by the service");
    const versionName = typeof res.name === "string" ? res.name : "";
    const m = /^(.*)\/cryptoKeyVersions\/([1-9][0-9]*)$/.exec(versionName);
    if (!m || m[1] !== keyId) throw integrityError(`response names "${versionName}", not a version of ${keyId}`, "name_mismatch");
    const wrapped = toBuffer(res.ciphertext);
    if (wrapped.length === 0) throw integrityError("empty ciphertext");
    if (int64ValueToNumber(res.ciphertextCrc32c) !== crc32c(wrapped)) throw integrityError("ciphertext checksum mismatch");
    return { wrapped: Buffer.from(wrapped), keyVersion: m[2]!, wrappedByKey: m[1]! };
  }

  async unwrap(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<Buffer> {
    return (await this.unwrapWithVersionCheck(keyId, wrapped, context)).plaintext;
  }

  /** DecryptResponse.used_primary says whether the ciphertext's version is still the primary: rotation seen at no extra call. */
  async unwrapWithVersionCheck(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<UnwrapWithVersionCheck> {
    this.validateKeyRef(keyId);
    if (!Buffer.isBuffer(wrapped) || wrapped.length === 0 || wrapped.length > MAX_WRAPPED_BYTES) {
      throw new KmsError("invalid", "gcp", "wrapped DEK is empty or too large");
    }
    const aad = canonicalContext(context);
    let res;
    try {
      [res] = await this.bounded(
        this.client.decrypt(
          {
            name: keyId,
            ciphertext: wrapped,
            additionalAuthenticatedData: aad,
            ciphertextCrc32c: { value: crc32c(wrapped) },
            additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
          },
          this.callOptions(),
        ),
      );
    } catch (e) {
      throw classifyGcpError(e, keyId);
    }
    const plaintext = toBuffer(res.plaintext);
    if (int64ValueToNumber(res.plaintextCrc32c) !== crc32c(plaintext)) throw integrityError("plaintext checksum mismatch");
    return { plaintext: Buffer.from(plaintext), usedCurrentVersion: res.usedPrimary === true };
  }

  /** GetCryptoKey, classified like every call. */
  private async getCryptoKey(keyId: string) {
    this.validateKeyRef(keyId);
    try {
      const [key] = await this.bounded(this.client.getCryptoKey({ name: keyId }, this.callOptions()));
      return key;
    } catch (e) {
      // A tenant that granted only cryptoKeyEncrypterDecrypter lacks cloudkms.cryptoKeys.get, so
      // PERMISSION_DENIED here is classified like any other answer and the caller decides what it means.
      throw classifyGcpError(e, keyId);
    }
  }

  async describe(keyId: string): Promise<KeyDescription> {
    const key = await this.getCryptoKey(keyId);
    const primary = key.primary;
    if (!primary) return { enabled: false, state: "NO_PRIMARY_VERSION", currentVersion: null };
    const state = typeof primary.state === "string" ? primary.state : String(primary.state ?? "UNKNOWN");
    const version = /\/cryptoKeyVersions\/([0-9]+)$/.exec(primary.name ?? "")?.[1] ?? null;
    return { enabled: state === "ENABLED", state, currentVersion: version };
  }

  async scheduledDeletion(keyId: string): Promise<Date | null> {
    const key = await this.getCryptoKey(keyId);
    const primary = key.primary;
    // The state arrives as the enum's name, or as its number (3) from a client configured for numbers.
    const scheduled = primary?.state === "DESTROY_SCHEDULED" || Number(primary?.state) === 3;
    if (!primary || !scheduled || !primary.destroyTime) return null;
    const { seconds, nanos } = primary.destroyTime;
    return new Date(Number(seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1_000_000));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
