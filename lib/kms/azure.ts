// Azure Key Vault / Managed HSM provider: wraps DEKs with a tenant's RSA key (RSA-OAEP-256) or
// Managed HSM AES key (A256KW) through the official SDK, and sorts every failure into
// revoked / unavailable / invalid. Protocol facts: /work/shared/KMS-NOTES.md section 2.
//
// Azure's wrapkey has no additional authenticated data, so `context` cannot be bound here; the
// broker's own envelope (which authenticates tenant and DEK id) is what ties a wrapped DEK to
// its owner.
import { Agent as HttpsAgent } from "node:https";
import { createSecureContext, rootCertificates } from "node:tls";
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
import { parseAzureKeyRef, type ParsedKeyRef } from "./azure-key-ref";
import { decodeWrapped, encodeWrapped, versionFromKid } from "./azure-wrapped";

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
export { decodeWrapped, encodeWrapped } from "./azure-wrapped";

export const DEFAULT_AZURE_HOST_SUFFIXES = [".vault.azure.net", ".managedhsm.azure.net"];

const MAX_DEK_BYTES = 64;


const invalid = (message: string, providerCode?: string) =>
  new KmsError("invalid", "azure", message, providerCode ? { providerCode } : {});

export class AzureKeyVaultProvider implements KmsProvider {
  readonly name = "azure" as const;
  private readonly credential: TokenCredential;
  private readonly allowed: string[];
  /**
   * The one agent (one TLS context) for every client of a vault trusted through `caPem`. Left to
   * itself each SDK client builds its own agent, and each of that agent's connections then parses
   * a fresh copy of the whole root store plus the extra CA: about 840 KiB of native memory per
   * connection that V8 does not see, so only a full collection frees it after the connection
   * closes. With a client per key, 1,000 tenants' keys held over 1 GiB. Real vaults (no extra CA)
   * keep the SDK's own agents, which honour its proxy settings; a custom agent bypasses them.
   */
  private readonly extraCaAgent?: HttpsAgent;
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
    if (config.caPem) {
      this.extraCaAgent = new HttpsAgent({ keepAlive: true, secureContext: createSecureContext({ ca: [...rootCertificates, config.caPem] }) });
    }
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
        ...(this.extraCaAgent ? { agent: this.extraCaAgent } : {}),
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
      return { wrapped: encodeWrapped(alg, version, Buffer.from(res.result)), keyVersion: version || null, wrappedByKey: `${ref.origin}/keys/${ref.name}` };
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

  async scheduledDeletion(keyId: string): Promise<Date | null> {
    const ref = this.parse(keyId);
    return this.bounded(keyId, async (signal) => {
      try {
        const deleted = await this.keyClient(ref).getDeletedKey(ref.name, { abortSignal: signal });
        return deleted.properties.scheduledPurgeDate ?? null;
      } catch (e) {
        // Not soft-deleted (or already purged): no deletion is pending.
        if ((e as RestLikeError).statusCode === 404) return null;
        throw e;
      }
    });
  }

  // ---------- internals ----------

  /** The SSRF guard: nothing outside the allow-list is ever contacted. */
  private parse(keyId: string): ParsedKeyRef {
    return parseAzureKeyRef(keyId, this.allowed);
  }

  private clientOptions(ref: ParsedKeyRef): CryptographyClientOptions {
    return {
      retryOptions: { maxRetries: this.maxRetries, retryDelayInMs: 100, maxRetryDelayInMs: 500 },
      // Challenge verification checks that the vault host ends in the resource the challenge
      // names (e.g. ".vault.azure.net"), which stops a host from collecting tokens for another
      // resource. It can never match localhost, so it is off for exact-host entries only.
      ...(ref.exactHost ? { disableChallengeResourceVerification: true } : {}),
      ...(ref.exactHost && this.extraCaAgent ? { agent: this.extraCaAgent } : {}),
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
