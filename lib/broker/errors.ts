// Typed application errors. Codes are the HTTP API's error codes (DESIGN.md contracts);
// lib/http maps each code to its status in one place.

export type BrokerErrorCode =
  | "invalid_request"
  | "unauthenticated"
  | "reauth_required"
  | "step_up_required"
  | "step_up_failed"
  | "quorum_required"
  | "forbidden"
  | "purpose_denied"
  | "scope_denied"
  | "outside_access_window"
  | "tenant_not_found"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "too_many_requests"
  | "invalid_ciphertext"
  | "invalid_key_ref"
  | "grant_invalid"
  | "provider_disabled"
  | "key_in_use"
  | "tenant_not_ready"
  | "tenant_locked"
  | "tenant_shredded"
  | "kms_unavailable"
  | "audit_unavailable";

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Seconds, for 503 and 429 answers. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function isBrokerError(e: unknown): e is BrokerError {
  return e instanceof BrokerError;
}
