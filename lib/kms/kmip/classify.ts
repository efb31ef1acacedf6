// Sorts every KMIP failure into revoked / unavailable / invalid (lib/kms/types.ts).
// - The server's own refusals of the key are revocations: Item Not Found, Permission Denied
//   (PyKMIP answers a non-Active key and another owner's key with it; the provider then reads the
//   State to name the reason), Authentication Not Successful and a TLS alert refusing our client
//   certificate (the tenant's server no longer accepts the broker's per-tenant identity).
// - Anything that says nothing about the key is unavailable and never locks: connection refused,
//   resets, timeouts (TLS handshake included), malformed or truncated answers, Operation Failed
//   with a transient reason (General Failure, Response Too Large, Operation Pending/Undone).
// - Our own request being refused as malformed (Invalid Message, Invalid Field, Missing Data,
//   Operation/Feature Not Supported) is a broker bug or a server that lacks what we need: invalid,
//   logged loudly by the provider, never a lock.
import { KmsError, type RevocationReason } from "../types";
import { KmipTransportError } from "./connection";
import { KmipProtocolError, KmipResultError } from "./messages";
import { KeyState, RESULT_REASON_NAMES, ResultReason, ResultStatus } from "./tags";

const TLS_REFUSALS = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED)/;
/** Our side refusing the server's certificate: the tenant's CA PEM does not match its server. */
const SERVER_CERT_UNTRUSTED = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE)$/;

const INVALID_REQUEST = new Set<number>([
  ResultReason.InvalidMessage,
  ResultReason.InvalidField,
  ResultReason.MissingData,
  ResultReason.OperationNotSupported,
  ResultReason.FeatureNotSupported,
  ResultReason.IndexOutOfBounds,
]);

export function stateRevocation(state: number | undefined): RevocationReason | null {
  switch (state) {
    case KeyState.Deactivated:
    case KeyState.PreActive:
      return "disabled";
    case KeyState.Compromised:
      return "compromised";
    case KeyState.Destroyed:
    case KeyState.DestroyedCompromised:
      return "destroyed";
    default:
      return null;
  }
}

export function classifyKmipError(e: unknown, op: string): KmsError {
  if (e instanceof KmsError) return e;
  if (e instanceof KmipResultError) {
    const name = e.reason !== undefined ? (RESULT_REASON_NAMES.get(e.reason) ?? `reason_${e.reason}`) : `status_${e.status}`;
    const msg = `KMIP ${op} refused: ${name}${e.serverMessage ? ` (${e.serverMessage})` : ""}`;
    if (e.status !== ResultStatus.OperationFailed) return new KmsError("unavailable", "kmip", msg, { providerCode: name });
    switch (e.reason) {
      case ResultReason.ItemNotFound:
        return new KmsError("revoked", "kmip", msg, { reason: "not_found", providerCode: name });
      case ResultReason.PermissionDenied:
      case ResultReason.AuthenticationNotSuccessful:
        return new KmsError("revoked", "kmip", msg, { reason: "access_denied", providerCode: name });
      case ResultReason.ObjectArchived:
        return new KmsError("revoked", "kmip", msg, { reason: "disabled", providerCode: name });
      case ResultReason.CryptographicFailure:
        // A wrapped DEK that does not authenticate (tampered, or another context).
        return new KmsError("invalid", "kmip", msg, { providerCode: name });
    }
    if (e.reason !== undefined && INVALID_REQUEST.has(e.reason)) return new KmsError("invalid", "kmip", msg, { providerCode: name });
    return new KmsError("unavailable", "kmip", msg, { providerCode: name });
  }
  if (e instanceof KmipTransportError) {
    if (e.tlsCode && TLS_REFUSALS.test(e.tlsCode)) {
      return new KmsError("revoked", "kmip", `the KMIP server refused the broker's client certificate (${e.tlsCode})`, { reason: "access_denied", providerCode: "tls_client_certificate_rejected" });
    }
    if (SERVER_CERT_UNTRUSTED.test(e.code)) {
      return new KmsError("invalid", "kmip", `the KMIP server's certificate is not trusted by the CA given for this key (${e.code}): ${e.message}`, { providerCode: "server_certificate_untrusted" });
    }
    return new KmsError("unavailable", "kmip", `KMIP server unreachable during ${op}: ${e.message}`, { providerCode: e.code });
  }
  if (e instanceof KmipProtocolError) return new KmsError("unavailable", "kmip", `the KMIP server's answer to ${op} is not valid KMIP: ${e.message}`, { providerCode: "malformed_response" });
  return new KmsError("unavailable", "kmip", `unexpected KMIP client failure during ${op}: ${(e as Error)?.message ?? String(e)}`);
}
