// The one place where errors become HTTP answers. Unknown errors are logged and answered
// with a generic 500; bad input never gets there, a database outage is a 503 with Retry-After,
// and no stack trace is ever sent.
import type { FastifyReply, FastifyRequest } from "fastify";
import { ZodError } from "zod";
import { BrokerError, type BrokerErrorCode } from "../broker/errors";
import type { ListedErrorCode } from "../contracts/error-codes";
import { isDatabaseUnavailable } from "../db/errors";
import { ApprovalPending } from "../broker/governance/approval-gate";

/** Seconds a client is told to wait when the database is unreachable (a restart takes a few). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** One status per code of BROKER_ERROR_CODES (lib/contracts/error-codes.ts), which the error envelope's enum lists. */
export const STATUS_OF: Record<BrokerErrorCode, number> = {
  invalid_request: 400,
  invalid_key_ref: 400,
  unauthenticated: 401,
  reauth_required: 401,
  step_up_required: 401,
  step_up_failed: 401,
  quorum_required: 403,
  forbidden: 403,
  purpose_denied: 403,
  scope_denied: 403,
  outside_access_window: 403,
  tenant_not_found: 404,
  not_found: 404,
  conflict: 409,
  tenant_not_ready: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  invalid_ciphertext: 422,
  grant_invalid: 422,
  provider_disabled: 422,
  key_in_use: 409,
  tenant_locked: 423,
  tenant_shredded: 410,
  kms_unavailable: 503,
  audit_unavailable: 503,
} satisfies Record<ListedErrorCode, number>;

export function sendError(reply: FastifyReply, code: string, status: number, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).type("application/json").send({ error: { code, message, ...extra } });
}

/** What a route's registration leaves for the error handler (lib/http/route.ts). */
export interface RouteErrorConfig {
  bodyTooLarge?: string;
}

/** Fastify's own errors (body parsing, limits, routing) as the API's codes. */
function fromFastify(err: { code?: string; statusCode?: number; message: string }, route: RouteErrorConfig): [string, number, string] | null {
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return ["invalid_request", 400, err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "request body is empty; send a JSON object" : "request body is not valid JSON"];
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return ["payload_too_large", 413, route.bodyTooLarge ?? "request body is too large (plaintext is limited to 1 MiB)"];
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return ["invalid_request", 415, "send the body as application/json"];
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return ["invalid_request", 400, "content-length does not match the body"];
  }
  if (err instanceof SyntaxError || (err as { type?: string }).type === "entity.parse.failed") return ["invalid_request", 400, "request body is not valid JSON"];
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return ["invalid_request", err.statusCode, err.message];
  return null;
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  // Not a failure: the tenant's quorum holds the action until M admins approve (routes of
  // protected actions declare the 202, lib/http/route.ts).
  if (err instanceof ApprovalPending) return reply.code(202).type("application/json").send({ approval: err.approval });
  if (err instanceof BrokerError) {
    if (err.retryAfterSeconds !== undefined) reply.header("retry-after", String(err.retryAfterSeconds));
    return sendError(reply, err.code, STATUS_OF[err.code], err.message, err.extra);
  }
  if (err instanceof ZodError) {
    // Bounded whatever the request held: a 0.93 MB body used to get an 8.4 MB list of every issue.
    return sendError(reply, "invalid_request", 400, describeZodError(err), {
      issues: err.issues.slice(0, MAX_LISTED_ISSUES).map((i) => ({ path: clip(i.path.join(".")), message: clip(i.message) })),
      issueCount: err.issues.length,
    });
  }
  // The database is down or restarting (pg, Prisma or driver-adapter connection errors): a
  // temporary condition the client should retry, never a 500.
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err: { message: (err as Error)?.message, code: (err as { code?: unknown })?.code } }, "database unavailable");
    reply.header("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
    return sendError(reply, "database_unavailable", 503, "the broker's database is unavailable; retry shortly");
  }
  const mapped = fromFastify(err as { code?: string; statusCode?: number; message: string }, (req.routeOptions?.config ?? {}) as RouteErrorConfig);
  if (mapped) return sendError(reply, mapped[0], mapped[1], clip(mapped[2]));
  req.log.error({ err: { message: (err as Error)?.message, name: (err as Error)?.name, stack: (err as Error)?.stack } }, "unhandled error");
  return sendError(reply, "internal_error", 500, "internal error; the request id in x-request-id identifies it in the broker's log");
}

export function describeZodError(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => clip(i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Issues listed in a 400 body; `issueCount` says how many there were. */
export const MAX_LISTED_ISSUES = 10;
/** Longest echo of request-derived text (a path made of a client's keys, a message quoting a value). */
export const MAX_ECHOED_CHARS = 200;

function clip(s: string): string {
  return s.length > MAX_ECHOED_CHARS ? `${s.slice(0, MAX_ECHOED_CHARS)}…` : s;
}
