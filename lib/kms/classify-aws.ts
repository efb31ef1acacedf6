// Sorts an error thrown by @aws-sdk/client-kms (or by the network underneath it) into the
// broker's three kinds. `revoked` locks the tenant, so only errors that mean "the tenant took
// access away" may produce it; anything unrecognised is `unavailable`, which never locks.

import { KmsError, type RevocationReason } from "./types";
import { NETWORK_ERROR_CODES } from "./network-errors";

const INVALID = new Set([
  "InvalidCiphertextException",
  "IncorrectKeyException",
  "ValidationException",
  "InvalidKeyUsageException",
  "InvalidArnException",
  "InvalidGrantTokenException",
  "UnsupportedOperationException",
  "SerializationException",
]);

// The broker's own credentials are broken or its clock is off: a vendor-side fault that must
// never be mistaken for the tenant revoking access.
const VENDOR_AUTH = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "MissingAuthenticationTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "ExpiredTokenException",
  "CredentialsProviderError",
]);

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

const MAX_MESSAGE = 300;

function text(v: unknown): string {
  const s = typeof v === "string" ? v : "";
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}…` : s;
}

/** The caller ARN a real AccessDeniedException names: "User: <arn> is not authorized to perform: ...". */
export function callerArnInAccessDenied(message: string): string | null {
  return /^User: (arn:[^\s]+) is not authorized to perform/.exec(message)?.[1] ?? null;
}

/**
 * One spelling for comparing principals: an STS assumed-role session ARN
 * (arn:aws:sts::123:assumed-role/Name/session) stands for its role (arn:aws:iam::123:role/Name).
 * Role paths are not part of the session ARN, so roles compare by account and name.
 */
export function principalIdentity(arn: string): string {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (assumed) return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`.toLowerCase();
  const role = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (role) return `arn:${role[1]}:iam::${role[2]}:role/${role[3]}`.toLowerCase();
  return arn.toLowerCase();
}

export interface AwsClassifyOptions {
  /** The broker's own principal ARN; an AccessDenied naming any other caller is a vendor-side fault. */
  expectedPrincipalArn?: string;
}

/** `operation` is only used in the message (e.g. "Decrypt"). */
export function classifyAwsError(err: unknown, operation: string, opts: AwsClassifyOptions = {}): KmsError {
  if (err instanceof KmsError) return err;
  const e = (err && typeof err === "object" ? err : {}) as SdkErrorShape;
  const name = typeof e.name === "string" && e.name ? e.name : "UnknownError";
  const code = typeof e.code === "string" ? e.code : undefined;
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  // The SDK turns an empty server message into "UnknownError"; real KMS sends none for InvalidCiphertext.
  const serverMessage = text(e.message) === "UnknownError" ? "" : text(e.message);
  const describe = (what: string) => `AWS KMS ${operation}: ${what} (${name}${serverMessage ? `: ${serverMessage}` : ""})`;
  const revoked = (reason: RevocationReason, what: string) =>
    new KmsError("revoked", "aws", describe(what), { reason, providerCode: name });
  const unavailable = (what: string, providerCode = name) =>
    new KmsError("unavailable", "aws", describe(what), { providerCode });

  const pendingDeletion = /pending deletion/i.test(serverMessage);
  switch (name) {
    case "DisabledException":
      return pendingDeletion
        ? revoked("pending_deletion", "the key is scheduled for deletion")
        : revoked("disabled", "the key is disabled");
    case "KMSInvalidStateException":
      return pendingDeletion
        ? revoked("pending_deletion", "the key is scheduled for deletion")
        : revoked("disabled", "the key is not in a usable state");
    case "AccessDeniedException": {
      // The broker running under the wrong identity is refused on every tenant's key; that is the
      // vendor's mistake, and locking every tenant for it would be a self-inflicted outage.
      const caller = callerArnInAccessDenied(serverMessage);
      if (opts.expectedPrincipalArn && caller && principalIdentity(caller) !== principalIdentity(opts.expectedPrincipalArn)) {
        return new KmsError(
          "unavailable",
          "aws",
          describe(`the request was made as ${caller}, not as the broker's configured identity ${opts.expectedPrincipalArn}; this is a broker configuration fault, not a revocation`),
          { providerCode: name, vendorFault: "wrong_identity" },
        );
      }
      return revoked("access_denied", "access to the key was denied");
    }
    case "NotFoundException":
      return revoked("not_found", "the key does not exist");
  }
  if (INVALID.has(name)) {
    return new KmsError("invalid", "aws", describe("the request or ciphertext was rejected"), { providerCode: name });
  }
  if (VENDOR_AUTH.has(name)) {
    return new KmsError("unavailable", "aws", describe("the broker's own AWS credentials were rejected; this is a broker configuration fault, not a revocation"), {
      providerCode: name,
      vendorFault: "credentials_rejected",
    });
  }
  // Before the name check: the SDK renames ECONNRESET/EPIPE/ETIMEDOUT errors to "TimeoutError",
  // and the code says more about what happened.
  if (code && NETWORK_ERROR_CODES.has(code)) return unavailable("network error", code);
  if (name === "TimeoutError" || name === "AbortError") return unavailable("the request timed out");
  if (/socket hang up/i.test(text(e.message))) return unavailable("network error", code ?? "ECONNRESET");
  if (status !== undefined && status >= 500) return unavailable(`server error ${status}`);
  return unavailable(
    name === "ThrottlingException" || name === "KMSInternalException" || name === "DependencyTimeoutException" || name === "KeyUnavailableException"
      ? "the service is temporarily unavailable"
      : "unrecognised error; treated as transient so it never locks a tenant",
  );
}
