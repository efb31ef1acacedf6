// The one error envelope every route answers with: {"error": {"code", "message", ...}}.
// The optional members are the extras BrokerError and the error handler attach; any other
// member is stripped on the way out, so an error can never leak more than this declares.
import { z } from "zod";
import { BROKER_ERROR_CODES } from "./error-codes";

export const ZErrorCode = z
  .enum([...BROKER_ERROR_CODES, "internal_error", "event_source_unreachable", "database_unavailable", "shutting_down"])
  .describe("Machine-readable error code; the HTTP status follows from it (lib/http/errors.ts)");

/** The steps of key validation (lib/broker/key-validation.ts), in every schema that names one. */
export const ZValidationStepName = z.enum(["ownership", "wrap", "unwrap", "compare", "describe"]);

/** A validation step as error extras carry it (grant_invalid, kms_unavailable). */
const ZErrorStep = z.object({
  step: ZValidationStepName,
  ok: z.boolean(),
  latencyMs: z.number(),
  error: z.object({ kind: z.string(), reason: z.string().optional(), code: z.string().optional(), message: z.string() }).optional(),
});

export const ZErrorBody = z.object({
  code: ZErrorCode,
  message: z.string(),
  issues: z
    .array(z.object({ path: z.string().describe("dot-separated path of the offending member"), message: z.string() }))
    .optional()
    .describe("invalid_request: what is wrong with the request, per member (at most 10)"),
  issueCount: z.number().int().optional().describe("invalid_request: how many issues there were (only the first 10 are listed)"),
  field: z.string().optional().describe("invalid_key_ref: the request member that holds the bad reference"),
  steps: z.array(ZErrorStep).optional().describe("grant_invalid, kms_unavailable: the key validation steps that ran"),
  step: ZValidationStepName.optional().describe("grant_invalid: the step that failed"),
  reason: z.string().nullable().optional().describe("grant_invalid: failure class; tenant_locked, conflict: the lock reason"),
  providerCode: z.string().nullable().optional().describe("grant_invalid: the KMS's own error code"),
  state: z.enum(["pending", "active", "locked"]).optional().describe("conflict: the tenant's state"),
  since: z.string().optional().describe("tenant_locked: when the lock took effect (ISO 8601)"),
  purpose: z.string().nullable().optional().describe("purpose_denied: the purpose the request gave (null: none)"),
  dataClass: z.string().optional().describe("tenant_locked, tenant_not_ready, scope_denied: the data class the request was for (issue 12)"),
  operation: z.enum(["encrypt", "decrypt"]).optional().describe("scope_denied: the operation the request was for"),
  timeZone: z.string().optional().describe("outside_access_window: the tenant's time zone the windows are read in"),
  shreddedAt: z.string().optional().describe("tenant_shredded: when the tenant's data keys were destroyed (ISO 8601)"),
  enrolled: z.boolean().optional().describe("step_up_required: the user has a factor (false: the tenant requires one; enroll first)"),
});

export const ZError = z.object({ error: ZErrorBody }).describe("Error envelope");
export type ErrorEnvelope = z.infer<typeof ZError>;
export type ErrorBody = z.infer<typeof ZErrorBody>;
