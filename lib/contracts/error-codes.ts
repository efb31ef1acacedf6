// The broker's error codes as a value, for the error envelope's enum. lib/http/errors.ts maps each
// to its HTTP status (STATUS_OF, typed against this list), so the two cannot drift apart.
import type { BrokerErrorCode } from "../broker/errors";

export const BROKER_ERROR_CODES = [
  "invalid_request",
  "invalid_key_ref",
  "unauthenticated",
  "reauth_required",
  "step_up_required",
  "step_up_failed",
  "quorum_required",
  "forbidden",
  "purpose_denied",
  "scope_denied",
  "outside_access_window",
  "tenant_not_found",
  "not_found",
  "conflict",
  "tenant_not_ready",
  "payload_too_large",
  "too_many_requests",
  "invalid_ciphertext",
  "grant_invalid",
  "provider_disabled",
  "key_in_use",
  "tenant_locked",
  "tenant_shredded",
  "kms_unavailable",
  "audit_unavailable",
] as const satisfies readonly BrokerErrorCode[];

export type ListedErrorCode = (typeof BROKER_ERROR_CODES)[number];

// Every BrokerErrorCode is listed: a code added to lib/broker/errors.ts and not here fails to compile.
type Unlisted = Exclude<BrokerErrorCode, ListedErrorCode>;
const everyCodeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyCodeListed;
