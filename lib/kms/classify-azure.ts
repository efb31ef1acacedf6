// Sorts an error thrown by @azure/keyvault-keys / @azure/identity (or the network under them) into
// the broker's three kinds; vendor-side faults (the broker's own credentials or identity) are
// `unavailable` with a vendorFault cause. Protocol facts: /work/shared/KMS-NOTES.md section 2.6.
import { KmsError, type RevocationReason } from "./types";
import { NETWORK_ERROR_CODES } from "./network-errors";

const invalid = (message: string, providerCode?: string) =>
  new KmsError("invalid", "azure", message, providerCode ? { providerCode } : {});

export interface RestLikeError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  details?: { error?: { code?: unknown; innerError?: { code?: unknown }; innererror?: { code?: unknown } } };
  response?: { headers?: { get?: (name: string) => string | undefined } };
  cause?: unknown;
}

const IDENTITY_ERRORS = new Set([
  "AuthenticationError",
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
  "AuthenticationRequiredError",
]);

/** The application id an access-policy AccessDenied message names ("... 'appid=<id>;oid=...' does not have ..."). */
export function callerAppIdInAccessDenied(message: string): string | null {
  return /appid=([0-9a-fA-F-]{36})/.exec(message)?.[1]?.toLowerCase() ?? null;
}

/**
 * Maps any error thrown by the Azure SDK (or the network under it) to the broker's three classes.
 * `expectedClientId` is the broker's own application id: a refusal naming another caller is a vendor fault.
 */
export function classifyAzureError(e: unknown, keyId?: string, expectedClientId?: string): KmsError {
  if (e instanceof KmsError) return e;
  const err = (e ?? {}) as RestLikeError;
  const status = typeof err.statusCode === "number" ? err.statusCode : undefined;
  const code = typeof err.code === "string" ? err.code : undefined;
  const inner = err.details?.error?.innerError?.code ?? err.details?.error?.innererror?.code;
  const innerCode = typeof inner === "string" ? inner : undefined;
  const providerCode = innerCode ?? code ?? (typeof err.name === "string" ? err.name : undefined);
  const text = typeof err.message === "string" && err.message ? err.message : String(e);
  const where = keyId ? ` (key ${keyId})` : "";
  const revoked = (reason: RevocationReason) =>
    new KmsError("revoked", "azure", `Azure Key Vault refused the key${where}: ${text}`, { reason, providerCode });
  const unavailable = (extra: { retryAfterSeconds?: number } = {}) =>
    new KmsError("unavailable", "azure", `Azure Key Vault unavailable${where}: ${text}`, { providerCode, ...extra });

  // Entra ID refusing the broker's own credential (AuthenticationError carries the token
  // endpoint's status, often 400 or 401) says nothing about the tenant's key.
  const vendorFault = (cause: "credentials_rejected" | "wrong_identity") =>
    new KmsError("unavailable", "azure", `Azure Key Vault refused the broker's own identity${where}; this is a broker configuration fault, not a revocation: ${text}`, {
      providerCode,
      vendorFault: cause,
    });
  if (typeof err.name === "string" && IDENTITY_ERRORS.has(err.name)) {
    // Entra ID answering 400/401 (invalid_client, bad secret) rejects the credentials; anything else
    // (no answer, a timeout, a 5xx) is an outage of the token endpoint.
    const tokenStatus = typeof err.statusCode === "number" ? err.statusCode : undefined;
    return err.name === "AuthenticationError" && (tokenStatus === 400 || tokenStatus === 401) ? vendorFault("credentials_rejected") : unavailable();
  }
  if (status !== undefined) {
    if (status === 401) return vendorFault("credentials_rejected");
    if (status === 403) {
      if (innerCode === "KeyDisabled") return revoked("disabled");
      const caller = callerAppIdInAccessDenied(text);
      if (expectedClientId && caller && caller !== expectedClientId.toLowerCase()) return vendorFault("wrong_identity");
      // AccessDenied (access policy), ForbiddenByRbac (role assignment) and ForbiddenByFirewall all
      // come from settings the tenant controls on its own vault: a firewall that shuts the broker
      // out is as deliberate a revocation as removing the role, so none of them is "unavailable".
      return revoked("access_denied");
    }
    if (status === 404) {
      // Deleted (soft-deleted) and purged look the same to the broker: telling them apart needs
      // deletedkeys/read, which the Crypto Service Encryption User role does not include. Only
      // Key Vault's own KeyNotFound locks; any other 404 (a proxy, a wrong host) is an outage.
      return code === "KeyNotFound" ? revoked("not_found") : unavailable();
    }
    if (status === 400) return invalid(`Azure Key Vault rejected the request${where}: ${text}`, providerCode);
    // 401 means the broker's own credential or token is wrong: never lock a tenant for that.
    if (status === 429 || status === 401 || status >= 500) {
      const ra = Number.parseInt(err.response?.headers?.get?.("retry-after") ?? "", 10);
      return unavailable(Number.isFinite(ra) && ra >= 0 ? { retryAfterSeconds: ra } : {});
    }
    return unavailable();
  }
  // CryptographyClient checks exp/nbf/key_ops itself against its cached copy of the key and
  // throws plain Errors without contacting the service; these are tenant-side key settings.
  if (/^Key .* expired at /.test(text) || /^Key .* can't be used before /.test(text)) return revoked("disabled");
  if (/^Operation \w+ is not supported on key /.test(text)) return revoked("access_denied");
  if (err.name === "AbortError" || (code && NETWORK_ERROR_CODES.has(code)) || /socket hang up/i.test(text)) return unavailable();
  // TLS failures, CredentialUnavailableError, AuthenticationError and anything unknown: an
  // outage until proven otherwise, because "revoked" locks the tenant.
  return unavailable();
}
