// Azure Key Vault / Managed HSM provider: wraps DEKs with a tenant's RSA key (RSA-OAEP-256) or
// Managed HSM AES key (A256KW) through the official SDK, and sorts every failure into
// revoked / unavailable / invalid. Protocol facts: /work/shared/KMS-NOTES.md section 2.
//
// Azure's wrapkey has no additional authenticated data, so `context` cannot be bound here; the
// broker's own envelope (which authenticates tenant and DEK id) is what ties a wrapped DEK to
// its owner.
import { rootCertificates } from "node:tls";
import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import {
  CryptographyClient,
  KeyClient,
  type CryptographyClientOptions,
  type KeyWrapAlgorithm,
} from "@azure/keyvault-keys";
import { KmsError, type KeyDescription, type KmsProvider, type WrapResult } from "./types";
import { classifyAzureError, type RestLikeError } from "./classify-azure";
import { takeSdkBytes } from "./sdk-bytes";

export interface AzureKeyVaultProviderConfig {
  /** Used as is when given; otherwise a ClientSecretCredential is built from the fields below. */
  credential?: TokenCredential;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Entra ID authority (emulator: its origin). Instance discovery is skipped when set. */
  authorityHost?: string;
  /**
   * Hosts key references may point at. Entries with a leading dot match one DNS label in front
   * of them ("x.vault.azure.net"); entries without one must equal the reference's host[:port]
   * exactly ("localhost:4598"). Default [".vault.azure.net", ".managedhsm.azure.net"].
   */
  allowedHostSuffixes?: string[];
  /** Extra CA to trust, for exact-host entries only (the emulator). */
  caPem?: string;
  /** Upper bound for one provider call, including token acquisition and retries (default 2000). */
  timeoutMs?: number;
  /** SDK retries after the first attempt (default 1). */
  maxRetries?: number;
}

export { callerAppIdInAccessDenied, classifyAzureError } from "./classify-azure";

export const DEFAULT_AZURE_HOST_SUFFIXES = [".vault.azure.net", ".managedhsm.azure.net"];

const MAX_DEK_BYTES = 64;
const MAX_KEY_ID_LENGTH = 2048;
const NAME_RE = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION_RE = /^[0-9a-fA-F]{32}$/;
// One DNS label in front of an allowed suffix: vault and HSM names are single labels.
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// Wrapped form: [FORMAT][alg][n][n bytes: key version, ASCII hex][Azure's wrapped bytes].
// Azure only unwraps with the key version that wrapped, and a versionless key id means
// "current version", which changes on rotation; so the version travels with the ciphertext.
const WRAPPED_FORMAT = 0x01;
const ALG_CODES: Record<number, KeyWrapAlgorithm> = { 1: "RSA-OAEP-256", 2: "A256KW" };
const ALG_IDS: Partial<Record<KeyWrapAlgorithm, number>> = { "RSA-OAEP-256": 1, A256KW: 2 };

interface ParsedKeyRef {
  /** "https://host[:port]" */
  origin: string;
  name: string;
  version: string | null;
  /** Matched an exact host:port entry (emulator / private endpoint) rather than an Azure suffix. */
  exactHost: boolean;
}

const invalid = (message: string, providerCode?: string) =>
  new KmsError("invalid", "azure", message, providerCode ? { providerCode } : {});

export function encodeWrapped(alg: KeyWrapAlgorithm, version: string, wrapped: Buffer): Buffer {
  const algId = ALG_IDS[alg];
  if (!algId) throw new Error(`unsupported wrap algorithm ${alg}`);
  const v = Buffer.from(version, "ascii");
  return Buffer.concat([Buffer.from([WRAPPED_FORMAT, algId, v.length]), v, wrapped]);
}

export function decodeWrapped(buf: Buffer): { alg: KeyWrapAlgorithm; version: string | null; wrapped: Buffer } {
  if (!Buffer.isBuffer(buf) || buf.length < 4) throw invalid("wrapped key is too short to be an Azure-wrapped DEK");
  if (buf[0] !== WRAPPED_FORMAT) throw invalid(`wrapped key has unknown format byte ${buf[0]}`);
  const alg = ALG_CODES[buf[1]!];
  if (!alg) throw invalid(`wrapped key names unknown algorithm id ${buf[1]}`);
  const n = buf[2]!;
  if (n !== 0 && n !== 32) throw invalid(`wrapped key has a key-version length of ${n} (expected 0 or 32)`);
  if (buf.length < 3 + n + 1) throw invalid("wrapped key is truncated");
  const version = n === 0 ? null : buf.subarray(3, 3 + n).toString("ascii");
  if (version !== null && !VERSION_RE.test(version)) throw invalid("wrapped key carries a malformed key version");
  return { alg, version, wrapped: buf.subarray(3 + n) };
}

function versionFromKid(kid: unknown): string | null {
  if (typeof kid !== "string") return null;
  const m = /\/keys\/[0-9a-zA-Z-]{1,127}\/([0-9a-fA-F]{32})$/.exec(kid);
  return m ? m[1]! : null;
}

export class AzureKeyVaultProvider implements KmsProvider {
  readonly name = "azure" as const;
  private readonly credential: TokenCredential;
  private readonly allowed: string[];
  private readonly caPem?: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly clientId?: string;
  private readonly cryptoClients = new Map<string, CryptographyClient>();
  private readonly keyClients = new Map<string, KeyClient>();
  /** Registered key id → wrap algorithm, from one getKey. */
  private readonly algorithms = new Map<string, KeyWrapAlgorithm>();

  constructor(config: AzureKeyVaultProviderConfig) {
    this.allowed = (config.allowedHostSuffixes ?? DEFAULT_AZURE_HOST_SUFFIXES).map((h) => h.toLowerCase());
    if (this.allowed.length === 0) throw new Error("AzureKeyVaultProvider: allowedHostSuffixes must not be empty");
    this.caPem = config.caPem;
    this.timeoutMs = config.timeoutMs ?? 2000;
    this.maxRetries = config.maxRetries ?? 1;
    this.clientId = config.clientId;
    if (config.credential) {
      this.credential = config.credential;
    } else if (config.tenantId && config.clientId && config.clientSecret) {
      this.credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
        ...(config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {}),
        // The vendor app is multi-tenant: each vault's challenge names the customer's tenant,
        // and the token must come from that tenant.
        additionallyAllowedTenants: ["*"],
        ...(config.caPem ? { tlsOptions: { ca: [...rootCertificates, config.caPem] } } : {}),
        retryOptions: { maxRetries: this.maxRetries, retryDelayInMs: 100, maxRetryDelayInMs: 500 },
      });
    } else {
      throw new Error("AzureKeyVaultProvider: give either `credential` or tenantId, clientId and clientSecret");
    }
  }

  validateKeyRef(keyId: string): void {
    this.parse(keyId);
  }

  /** https://<lowercase host, no default port>/keys/<name>[/<version>], no trailing slash. */
  canonicalKeyRef(keyId: string): string {
    if (typeof keyId === "string" && /^https:\/\/[^/]+\/keys\/[^/]+(\/[^/]+)?\/$/i.test(keyId)) keyId = keyId.slice(0, -1);
    // Scheme and host case, default port and leading zeros in the port are normalised by the URL
    // parser inside parse(); the result is rebuilt from the parsed parts only.
    const ref = this.parse(keyId);
    return `${ref.origin}/keys/${ref.name}${ref.version ? `/${ref.version}` : ""}`;
  }

  async ownershipTags(keyId: string): Promise<Record<string, string>> {
    const ref = this.parse(keyId);
    return this.bounded(keyId, async (signal) => {
      const key = await this.keyClient(ref).getKey(ref.name, { abortSignal: signal, ...(ref.version ? { version: ref.version } : {}) });
      return { ...(key.properties.tags ?? {}) };
    });
  }

  async wrap(keyId: string, dek: Buffer, _context: Record<string, string>): Promise<WrapResult> {
    const ref = this.parse(keyId);
    if (!Buffer.isBuffer(dek) || dek.length === 0 || dek.length > MAX_DEK_BYTES) {
      throw invalid(`DEK must be 1..${MAX_DEK_BYTES} bytes`);
    }
    return this.bounded(keyId, async (signal) => {
      const alg = await this.algorithmFor(keyId, ref, signal);
      let kid: unknown;
      const res = await this.crypto(keyId, ref).wrapKey(alg, dek, {
        abortSignal: signal,
        // The SDK reports its own idea of the key id (versionless when the registered id is);
        // the response's kid names the version the service actually used.
        onResponse: (raw: { parsedBody?: unknown }) => {
          kid = (raw.parsedBody as { kid?: unknown } | undefined)?.kid;
        },
      } as Parameters<CryptographyClient["wrapKey"]>[2]);
      const version = versionFromKid(kid) ?? versionFromKid(res.keyID) ?? ref.version ?? "";
      return { wrapped: encodeWrapped(alg, version, Buffer.from(res.result)), keyVersion: version || null };
    });
  }

  async unwrap(keyId: string, wrapped: Buffer, _context: Record<string, string>): Promise<Buffer> {
    const ref = this.parse(keyId);
    const { alg, version, wrapped: body } = decodeWrapped(wrapped);
    const target = version ? `${ref.origin}/keys/${ref.name}/${version}` : keyId;
    const targetRef: ParsedKeyRef = { ...ref, version: version ?? ref.version };
    return this.bounded(keyId, async (signal) => {
      try {
        const res = await this.crypto(target, targetRef).unwrapKey(alg, body, { abortSignal: signal });
        // Copy the DEK out and wipe the SDK's buffer, so the result object holds no key material.
        return takeSdkBytes(res.result);
      } catch (e) {
        const err = e as RestLikeError;
        // A version that does not exist while the key does means the stored bytes name a version
        // this key never had (tampering or a mix-up), which must not lock the tenant as not_found.
        if (version && err.statusCode === 404) {
          const exists = await this.keyClient(ref)
            .getKey(ref.name, { abortSignal: signal })
            .then(() => true)
            .catch(() => false);
          if (exists) throw invalid(`wrapped key names version ${version}, which key ${ref.name} does not have`, "KeyNotFound");
        }
        throw e;
      }
    });
  }

  async describe(keyId: string): Promise<KeyDescription> {
    const ref = this.parse(keyId);
    return this.bounded(keyId, async (signal) => {
      const key = await this.keyClient(ref).getKey(ref.name, { abortSignal: signal, ...(ref.version ? { version: ref.version } : {}) });
      const p = key.properties;
      const now = Date.now();
      let state = p.enabled ? "Enabled" : "Disabled";
      if (p.enabled && p.expiresOn && p.expiresOn.getTime() < now) state = "Expired";
      if (p.enabled && p.notBefore && p.notBefore.getTime() > now) state = "NotYetValid";
      return { enabled: state === "Enabled", state, currentVersion: p.version ?? null };
    });
  }

  // ---------- internals ----------

  /** The SSRF guard: nothing outside the allow-list is ever contacted. */
  private parse(keyId: string): ParsedKeyRef {
    if (typeof keyId !== "string" || keyId.length === 0) throw invalid("Azure key reference must be a non-empty string");
    if (keyId.length > MAX_KEY_ID_LENGTH) throw invalid(`Azure key reference is longer than ${MAX_KEY_ID_LENGTH} characters`);
    // The WHATWG parser silently drops tabs/newlines and normalises paths; refuse such input
    // instead of validating something other than what was registered.
    if (!/^[\x21-\x7e]+$/.test(keyId)) throw invalid("Azure key reference contains whitespace or non-ASCII characters");
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(keyId)?.[1]?.toLowerCase();
    if (scheme !== "https") throw invalid(`Azure key reference must use https (got ${scheme ? `"${scheme}:"` : "no scheme"})`);
    if (keyId.includes("?")) throw invalid("Azure key reference must not contain a query string");
    if (keyId.includes("#")) throw invalid("Azure key reference must not contain a fragment");
    if (keyId.includes("\\")) throw invalid("Azure key reference must not contain backslashes");
    const m = /^https:\/\/([^/]*)(\/.*)?$/i.exec(keyId);
    if (!m) throw invalid("Azure key reference must start with https://<host>/");
    const authority = m[1]!;
    const rawPath = m[2] ?? "";
    if (authority.includes("@")) throw invalid("Azure key reference must not contain user info (\"user@\") in its host");
    let url: URL;
    try {
      url = new URL(keyId);
    } catch {
      throw invalid("Azure key reference is not a valid URL");
    }
    if (url.username || url.password) throw invalid("Azure key reference must not contain user info");
    const host = url.host.toLowerCase();
    const hostname = url.hostname.toLowerCase();
    let exactHost = false;
    const ok = this.allowed.some((entry) => {
      if (entry.startsWith(".")) {
        if (url.port !== "" || !hostname.endsWith(entry)) return false;
        return LABEL_RE.test(hostname.slice(0, -entry.length));
      }
      if (host === entry) {
        exactHost = true;
        return true;
      }
      return false;
    });
    if (!ok) throw invalid(`Azure key host "${host}" is not allowed (allowed: ${this.allowed.join(", ")})`);
    const pm = /^\/keys\/([^/]+)(?:\/([^/]+))?$/.exec(rawPath);
    if (!pm) throw invalid(`Azure key reference path must be /keys/<name>[/<version>] (got "${rawPath || "/"}")`);
    const name = pm[1]!;
    const version = pm[2] ?? null;
    if (!NAME_RE.test(name)) throw invalid(`Azure key name "${name}" must be 1-127 characters of 0-9, a-z, A-Z and "-"`);
    if (version !== null && !VERSION_RE.test(version)) throw invalid(`Azure key version "${version}" must be 32 hex characters`);
    if (url.pathname !== rawPath) throw invalid("Azure key reference path is not in canonical form");
    return { origin: `https://${host}`, name, version, exactHost };
  }

  private clientOptions(ref: ParsedKeyRef): CryptographyClientOptions {
    return {
      retryOptions: { maxRetries: this.maxRetries, retryDelayInMs: 100, maxRetryDelayInMs: 500 },
      // Challenge verification checks that the vault host ends in the resource the challenge
      // names (e.g. ".vault.azure.net"), which stops a host from collecting tokens for another
      // resource. It can never match localhost, so it is off for exact-host entries only.
      ...(ref.exactHost ? { disableChallengeResourceVerification: true } : {}),
      ...(ref.exactHost && this.caPem ? { tlsOptions: { ca: [...rootCertificates, this.caPem] } } : {}),
    };
  }

  private crypto(id: string, ref: ParsedKeyRef): CryptographyClient {
    let c = this.cryptoClients.get(id);
    if (!c) {
      c = new CryptographyClient(id, this.credential, this.clientOptions(ref));
      this.cryptoClients.set(id, c);
    }
    return c;
  }

  private keyClient(ref: ParsedKeyRef): KeyClient {
    let c = this.keyClients.get(ref.origin);
    if (!c) {
      c = new KeyClient(ref.origin, this.credential, this.clientOptions(ref));
      this.keyClients.set(ref.origin, c);
    }
    return c;
  }

  private async algorithmFor(keyId: string, ref: ParsedKeyRef, signal: AbortSignal): Promise<KeyWrapAlgorithm> {
    const cached = this.algorithms.get(keyId);
    if (cached) return cached;
    const key = await this.keyClient(ref).getKey(ref.name, { abortSignal: signal, ...(ref.version ? { version: ref.version } : {}) });
    const kty = key.keyType ?? "";
    let alg: KeyWrapAlgorithm;
    if (kty === "RSA" || kty === "RSA-HSM") alg = "RSA-OAEP-256";
    // AES keys exist only in Managed HSM; A256KW assumes the tenant created a 256-bit key.
    else if (kty === "oct" || kty === "oct-HSM") alg = "A256KW";
    else throw invalid(`Azure key ${ref.name} has type "${kty}"; only RSA and oct (AES) keys can wrap`, "UnsupportedKeyType");
    this.algorithms.set(keyId, alg);
    return alg;
  }

  /** Runs one provider call under a hard deadline, so no SDK path (token fetch, retries) outlives it. */
  private async bounded<T>(keyId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(
          new KmsError("unavailable", "azure", `Azure Key Vault did not answer within ${this.timeoutMs} ms (key ${keyId})`, {
            providerCode: "Timeout",
          }),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([fn(ac.signal), deadline]);
    } catch (e) {
      const err = classifyAzureError(e, keyId, this.clientId);
      // A cached client holds a snapshot of the key (exp, key_ops) and a token; after a
      // revocation or an auth failure start over, so a tenant's fix is seen on the next call.
      if (err.kind === "revoked" || err.detail.providerCode === "Unauthorized") this.forget(keyId);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private forget(keyId: string): void {
    this.algorithms.delete(keyId);
    for (const id of this.cryptoClients.keys()) {
      if (id === keyId || id.startsWith(`${keyId.replace(/\/[0-9a-fA-F]{32}$/, "")}/`)) this.cryptoClients.delete(id);
    }
  }
}
