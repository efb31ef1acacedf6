// Typed errors: one class per API error code (ERROR_CODES, generated from lib/contracts), plus the
// client's own failures (timeout, connection, unexpected answer). `errorFromBody` picks the class.
import type { ErrorBody, ErrorCode } from "./generated/api.js";

export interface ApiErrorInit {
  status: number;
  body: ErrorBody | { code: string; message: string };
  requestId?: string;
  /** Seconds from the answer's Retry-After header. */
  retryAfter?: number;
}

/** Any error the broker answered with (an HTTP error status, or one item of a batch). */
export class BrokerApiError extends Error {
  override name = "BrokerApiError";
  readonly code: ErrorCode | (string & {});
  /** The HTTP status (for a batch item: the status a single call would have had). */
  readonly status: number;
  /** The broker's x-request-id of the request (the audit log's request id). */
  readonly requestId: string | undefined;
  /** Seconds the broker asked to wait (Retry-After), when it said. */
  readonly retryAfter: number | undefined;
  /** The whole error body, extras included. */
  readonly body: ErrorBody | { code: string; message: string };
  /** Set by the field helpers: the field path whose value failed. */
  field?: string;
  /** Set for a batch item: its index in the request. */
  index?: number;
  constructor(init: ApiErrorInit) {
    super(init.body.message);
    this.code = init.body.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }
}

const extra = (e: BrokerApiError) => e.body as Partial<ErrorBody>;

export class InvalidRequestError extends BrokerApiError {
  override name = "InvalidRequestError";
  /** What is wrong, per member (at most 10). */
  get issues() {
    return extra(this).issues ?? [];
  }
}
export class InvalidKeyRefError extends BrokerApiError {
  override name = "InvalidKeyRefError";
}
export class UnauthenticatedError extends BrokerApiError {
  override name = "UnauthenticatedError";
}
export class ReauthRequiredError extends BrokerApiError {
  override name = "ReauthRequiredError";
}
export class ForbiddenError extends BrokerApiError {
  override name = "ForbiddenError";
}
export class TenantNotFoundError extends BrokerApiError {
  override name = "TenantNotFoundError";
}
export class NotFoundError extends BrokerApiError {
  override name = "NotFoundError";
}
export class ConflictError extends BrokerApiError {
  override name = "ConflictError";
}
export class TenantNotReadyError extends BrokerApiError {
  override name = "TenantNotReadyError";
}
export class PayloadTooLargeError extends BrokerApiError {
  override name = "PayloadTooLargeError";
}
export class TooManyRequestsError extends BrokerApiError {
  override name = "TooManyRequestsError";
}
export class InvalidCiphertextError extends BrokerApiError {
  override name = "InvalidCiphertextError";
}
export class GrantInvalidError extends BrokerApiError {
  override name = "GrantInvalidError";
}
export class ProviderDisabledError extends BrokerApiError {
  override name = "ProviderDisabledError";
}
export class KeyInUseError extends BrokerApiError {
  override name = "KeyInUseError";
}
/** 423: the tenant's key access is revoked or the tenant pulled its kill switch. */
export class TenantLockedError extends BrokerApiError {
  override name = "TenantLockedError";
  /** Why the tenant is locked (the KMS's revocation reason or the kill switch's text). */
  get reason(): string | null {
    return extra(this).reason ?? null;
  }
  /** When the lock took effect. */
  get since(): Date | null {
    const s = extra(this).since;
    return s ? new Date(s) : null;
  }
  /** The locked data class, when only one class of the tenant is locked (issue 12). */
  get dataClass(): string | null {
    return extra(this).dataClass ?? null;
  }
}
/** 503: the tenant's KMS is unreachable (an outage, never a revocation); retry after `retryAfter` seconds. */
export class KmsUnavailableError extends BrokerApiError {
  override name = "KmsUnavailableError";
}
export class AuditUnavailableError extends BrokerApiError {
  override name = "AuditUnavailableError";
}
export class InternalError extends BrokerApiError {
  override name = "InternalError";
}
export class EventSourceUnreachableError extends BrokerApiError {
  override name = "EventSourceUnreachableError";
}
export class DatabaseUnavailableError extends BrokerApiError {
  override name = "DatabaseUnavailableError";
}
export class ShuttingDownError extends BrokerApiError {
  override name = "ShuttingDownError";
}
/** 403: the tenant's purpose policy refused the purpose this call gave (or its absence). */
export class PurposeDeniedError extends BrokerApiError {
  override name = "PurposeDeniedError";
  /** The purpose the call gave, null when it gave none. */
  get purpose(): string | null {
    return extra(this).purpose ?? null;
  }
}
/** 403: the token's scope does not cover this data class or operation (issue 12). */
export class ScopeDeniedError extends BrokerApiError {
  override name = "ScopeDeniedError";
  /** The data class the call was for, when the refusal names one. */
  get dataClass(): string | null {
    return extra(this).dataClass ?? null;
  }
  /** The operation the call was for. */
  get operation(): "encrypt" | "decrypt" | null {
    return extra(this).operation ?? null;
  }
}
/** 403: the token may not be used now: outside its access windows (read in `timeZone`). */
export class OutsideAccessWindowError extends BrokerApiError {
  override name = "OutsideAccessWindowError";
  get timeZone(): string | null {
    return extra(this).timeZone ?? null;
  }
}
/** 401: a console action needs a passkey or TOTP step-up first (console sessions only). */
export class StepUpRequiredError extends BrokerApiError {
  override name = "StepUpRequiredError";
}
export class StepUpFailedError extends BrokerApiError {
  override name = "StepUpFailedError";
}
/** 403: the tenant's M-of-N quorum covers this action; the vendor admin token cannot request or bypass it. */
export class QuorumRequiredError extends BrokerApiError {
  override name = "QuorumRequiredError";
}
/** 410: the tenant's data keys were destroyed (crypto-shredding); nothing encrypted for it can be read again. */
export class TenantShreddedError extends BrokerApiError {
  override name = "TenantShreddedError";
  get shreddedAt(): Date | null {
    const s = extra(this).shreddedAt;
    return s ? new Date(s) : null;
  }
}

/** One class per code: a code added to the API (and regenerated) fails to compile until it has one. */
export const ERROR_CLASSES: { [C in ErrorCode]: new (init: ApiErrorInit) => BrokerApiError } = {
  invalid_request: InvalidRequestError,
  invalid_key_ref: InvalidKeyRefError,
  unauthenticated: UnauthenticatedError,
  reauth_required: ReauthRequiredError,
  forbidden: ForbiddenError,
  tenant_not_found: TenantNotFoundError,
  not_found: NotFoundError,
  conflict: ConflictError,
  tenant_not_ready: TenantNotReadyError,
  payload_too_large: PayloadTooLargeError,
  too_many_requests: TooManyRequestsError,
  invalid_ciphertext: InvalidCiphertextError,
  grant_invalid: GrantInvalidError,
  provider_disabled: ProviderDisabledError,
  key_in_use: KeyInUseError,
  tenant_locked: TenantLockedError,
  kms_unavailable: KmsUnavailableError,
  audit_unavailable: AuditUnavailableError,
  internal_error: InternalError,
  event_source_unreachable: EventSourceUnreachableError,
  database_unavailable: DatabaseUnavailableError,
  shutting_down: ShuttingDownError,
  purpose_denied: PurposeDeniedError,
  scope_denied: ScopeDeniedError,
  outside_access_window: OutsideAccessWindowError,
  tenant_shredded: TenantShreddedError,
  step_up_required: StepUpRequiredError,
  step_up_failed: StepUpFailedError,
  quorum_required: QuorumRequiredError,
};

/** The status a code has on a single call, for batch items (which carry no status of their own). */
const ITEM_STATUS: Partial<Record<ErrorCode, number>> = { invalid_request: 400, forbidden: 403, scope_denied: 403, payload_too_large: 413, invalid_ciphertext: 422, tenant_locked: 423, kms_unavailable: 503 };

export function errorFromBody(init: ApiErrorInit): BrokerApiError {
  const Cls = (ERROR_CLASSES as Record<string, (new (init: ApiErrorInit) => BrokerApiError) | undefined>)[init.body.code] ?? BrokerApiError;
  return new Cls(init);
}

export function itemError(body: { code: string; message: string }, index: number, requestId: string | undefined): BrokerApiError {
  const e = errorFromBody({ status: ITEM_STATUS[body.code as ErrorCode] ?? 400, body, requestId });
  e.index = index;
  return e;
}

/** The call's own timeout (timeoutMs) ran out, retries included. */
export class BrokerTimeoutError extends Error {
  override name = "BrokerTimeoutError";
  constructor(
    readonly timeoutMs: number,
    readonly requestId: string,
    /** The last failure before the time ran out, if any. */
    override readonly cause?: unknown,
  ) {
    super(`the broker did not answer within ${timeoutMs} ms (request ${requestId})`);
  }
}

/** The connection failed (refused, reset, DNS) before an answer arrived. */
export class BrokerConnectionError extends Error {
  override name = "BrokerConnectionError";
  constructor(
    message: string,
    readonly requestId: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** The broker answered with something that is not the API's JSON (a proxy's HTML page, a truncated body). */
export class UnexpectedResponseError extends Error {
  override name = "UnexpectedResponseError";
  constructor(
    message: string,
    readonly status: number,
    readonly requestId: string | undefined,
  ) {
    super(message);
  }
}

/** Why a signal aborted, as an Error (AbortSignal.reason may be any value). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException(String(r ?? "the operation was aborted"), "AbortError");
}
