// Response schemas of the audit routes. An audit event's `detail` is declared per action (a
// union discriminated on `action`), and every detail object is strict: the detail is covered by
// the entry's hash, so a member stripped on the way out would make the entry fail to re-verify
// for whoever checks it. An undeclared member therefore fails the response loudly instead.
import { ZKmsProviderName } from "./providers";
import { z, type ZodType } from "zod";
import { AUDIT_OUTCOMES } from "../audit/catalog";
import type { AuditAction } from "../audit/types";
import { ZValidationStepName } from "./errors";
import { ZTokenScope } from "./classes";
import { ZShredCertificate } from "./shredding";
import { ZLockSource } from "./status";

const ZProvider = ZKmsProviderName;

const auditEventFields = {
  id: z.string().describe("database id (decimal string); a locator, not hashed"),
  tenantId: z.string(),
  seq: z.number().int().describe("position in the tenant's chain, from 1"),
  time: z.string().describe("ISO 8601, UTC, millisecond precision"),
  actorType: z.enum(["service_token", "admin_token", "console_user", "system"]),
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  provider: ZProvider.nullable(),
  keyRef: z.string().nullable(),
  keyVersion: z.string().nullable(),
  dekId: z.string().nullable(),
  cacheHit: z.boolean().nullable(),
  latencyMs: z.number().nullable(),
  bytes: z.number().int().nullable(),
  purpose: z.string().nullable(),
  requestId: z.string().nullable(),
  reason: z.string().nullable(),
  prevHash: z.string().describe("hash of the previous entry (64 zeros for the first)"),
  hash: z.string().describe("sha256 over prevHash and the canonical entry (lib/audit/canonical.ts)"),
};

const ZKmsCallDetail = z.strictObject({
  message: z.string().optional().describe("the KMS's error message, at most 500 characters (failed calls)"),
  keyRole: z.enum(["primary", "secondary"]).optional().describe("set for a call to a class's secondary key (issue 12)"),
  failover: z.enum(["hedge", "drill"]).optional().describe("a secondary's unwrap because the primary was unavailable or slower than the hedge budget, or forced by a failover drill"),
});
/** The data class an entry of a class's control action concerns; absent for `default` (entries as before classes). */
const dataClassField = { dataClass: z.string().optional().describe("the data class, when not `default`") };
const ZClassOnly = z.strictObject({ dataClass: z.string() }).describe("the data class (not `default`)");
const ZLockDetail = z.strictObject({ source: ZLockSource, detectedAt: z.string(), revokedAt: z.string().nullable(), ...dataClassField });
const ZDrillDetail = z.strictObject({
  lockedAt: z.string(),
  unlockedAt: z.string().nullable(),
  fanoutMs: z.number().nullable(),
  peers: z.number().int(),
  revalidationMs: z.number(),
  totalMs: z.number(),
});

const ZAlertDetail = z.strictObject({
  alertId: z.string(),
  kind: z.enum(["rate_spike", "refusal_spike", "new_token", "new_purpose", "off_hours"]),
  subject: z.string().describe("tenant, token:<id> or purpose:<code>"),
  observed: z.number().describe("the minute's count (requests or refusals) that raised it; 0 on resolve"),
  baseline: z.number().describe("the learned per-minute baseline (after the floor)"),
  threshold: z.number().describe("observed had to exceed this"),
  minute: z.string().describe("the minute (ISO 8601) evaluated"),
});

const ZRewrapCounts = z.strictObject({
  jobId: z.string(),
  rewrapped: z.number().int().describe("DEKs re-wrapped (by this batch, or by the whole job)"),
  failed: z.number().int().describe("DEKs that could not be re-wrapped (they keep their earlier wrapped form)"),
  done: z.number().int(),
  total: z.number().int(),
  cause: z.string().optional().describe("add_secondary: `rewrapped` counts forms added under the class's secondary key"),
  dataClass: z.string().optional(),
});

const ZApprovalDetail = z.strictObject({
  approvalId: z.string(),
  action: z.string().describe("the protected action (lib/broker/quorum/protected-actions.ts)"),
  params: z.string().describe("its exact parameters, as canonical JSON"),
  approvals: z.number().int().describe("distinct approvals so far"),
  requiredApprovals: z.number().int(),
  expiresAt: z.string(),
});

const ZFactorDetail = z.strictObject({ factorId: z.string().nullable(), kind: z.enum(["totp", "passkey"]) });

/** What `detail` holds for each action; null where the action records none. */
/** A data-path entry's detail: null for a single request of `default`; its place for a batch item; its phase for a stream; its class if not `default`. */
const ZDataDetail = z
  .strictObject({
    batchIndex: z.number().int().optional().describe("batch item: its position in the request (from 0)"),
    batchSize: z.number().int().optional().describe("batch item: the number of items in the request"),
    stream: z.enum(["opened", "closed"]).optional().describe("stream: opened (the DEK was used, before any output) or closed (how it ended)"),
    frames: z.number().int().optional().describe("stream, closed: frames sealed or verified"),
    dataClass: z.string().optional().describe("the data class the request was for, when not `default` (issue 12)"),
  })
  .nullable();

const DETAIL_OF = {
  encrypt: ZDataDetail,
  decrypt: ZDataDetail,
  "kms.wrap": ZKmsCallDetail.nullable(),
  "kms.unwrap": ZKmsCallDetail.nullable(),
  "kms.probe": ZKmsCallDetail.nullable(),
  "kms.describe": ZKmsCallDetail.nullable(),
  "kms.reencrypt": ZKmsCallDetail.nullable(),
  "tenant.create": z.strictObject({ slug: z.string(), name: z.string() }),
  "key.connect": z.union([z.null(), ZClassOnly]),
  "key.validate": z.strictObject({ steps: z.array(z.strictObject({ step: ZValidationStepName, ok: z.boolean(), latencyMs: z.number() })), ...dataClassField, role: z.enum(["primary", "secondary"]).optional() }),
  "key.rotate": z.null(),
  "key.rotated": z.strictObject({
    from: z.string().describe("the version new wraps used before"),
    to: z.string().describe("the key's current version now"),
    detectedBy: z.enum(["probe", "push"]).describe("the scheduled probe, or a probe a pushed key event triggered"),
  }),
  "tenant.lock": ZLockDetail,
  "tenant.unlock": z.union([z.null(), ZClassOnly]),
  "tenant.drill": z.union([ZLockDetail, ZDrillDetail, z.null()]).describe("the drill's lock, its report, or null when its preflight failed"),
  "tenant.shred": z.strictObject({ certificate: ZShredCertificate }),
  "tenant.settings": z.union([z.strictObject({ manualResume: z.boolean() }), z.strictObject({ retentionDays: z.number().int().nullable() })]),
  "class.create": ZClassOnly.describe("a data class was created"),
  "class.remove": ZClassOnly.describe("a data class (with no DEKs) was removed, with its key connections"),
  "token.create": z.strictObject({
    tokenId: z.string(),
    name: z.string(),
    prefix: z.string(),
    // The token's scope (issue 12); absent on entries written before scopes existed.
    operations: ZTokenScope.shape.operations.optional(),
    dataClasses: ZTokenScope.shape.dataClasses.optional(),
  }),
  "token.revoke": z.strictObject({ tokenId: z.string() }),
  "webhook.create": z.strictObject({ webhookId: z.string(), url: z.string() }),
  "webhook.delete": z.strictObject({ webhookId: z.string() }),
  "console.login": z.strictObject({ method: z.string().describe("sign-in method, e.g. password"), role: z.string() }),
  "audit.export": z.strictObject({ format: z.enum(["jsonl", "csv"]) }),
  "audit.prune": z.null(),
  "auth.refused": z
    .strictObject({
      count: z.number().int().describe("refused requests in the window"),
      operations: z.strictObject({ encrypt: z.number().int().optional(), decrypt: z.number().int().optional() }).describe("refusals per data operation"),
      reasons: z
        .strictObject({ missing_credentials: z.number().int().optional(), invalid_credentials: z.number().int().optional(), rate_limited: z.number().int().optional() })
        .describe("refusals per reason"),
      from: z.string(),
      to: z.string(),
    })
    .describe("a summary of unauthenticated requests refused in one window"),
  "governance.policy": z
    .strictObject({
      resource: z.enum(["purpose_policy", "access_windows", "time_zone", "purpose_code", "maintenance_window", "alert_thresholds"]),
      tokenId: z.string().nullable(),
      change: z.string().describe("the new setting, as canonical JSON"),
    })
    .describe("a purpose policy, access window, time zone, purpose code or alert threshold changed"),
  "governance.break_glass": z
    .strictObject({ grantId: z.string(), tokenId: z.string().nullable(), reason: z.string(), startsAt: z.string(), expiresAt: z.string(), change: z.enum(["granted", "revoked"]) })
    .describe("a break-glass exception to the access windows, granted or revoked"),
  "alert.raised": ZAlertDetail.describe("an alert on unusual key use opened an episode"),
  "alert.resolved": ZAlertDetail.describe("use returned to normal: the episode closed"),
  "rewrap.start": z.strictObject({ jobId: z.string(), cause: z.string(), total: z.number().int().describe("DEKs to re-wrap when the job started") }),
  "rewrap.batch": ZRewrapCounts.describe("one batch of a re-wrap job: this batch's counts and the job's running totals"),
  "rewrap.finish": ZRewrapCounts,
  "rewrap.pause": z.strictObject({ jobId: z.string(), cause: z.string().describe("tenant_locked, revoked, retiring_key_revoked, kms_unavailable, kms_throttled") }),
  "rewrap.cancel": z.strictObject({ jobId: z.string(), returnJobId: z.string().nullable().describe("the job moving DEKs back to the earlier key, when the cancelled job was a key switch") }),
  "secondary.connect": z.strictObject({ dataClass: z.string(), connectionId: z.string(), deks: z.number().int().describe("DEKs of the class the add_secondary job gives a form under the key") }),
  "secondary.remove": z.strictObject({ dataClass: z.string(), connectionId: z.string(), forms: z.number().int().describe("wrapped forms under the secondary that were deleted") }),
  "failover.drill": z
    .strictObject({ dataClass: z.string(), seconds: z.number().int(), attempted: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), p50Ms: z.number().nullable() })
    .describe("a failover drill forced the class's unwraps through its secondary key"),
  "approval.requested": ZApprovalDetail.describe("a protected action is waiting for M-of-N approval (delivered to webhooks as approval.requested)"),
  "approval.approved": ZApprovalDetail.describe("one tenant admin approved a pending request"),
  "approval.executed": ZApprovalDetail.describe("the M-th approval arrived and the action ran"),
  "approval.failed": ZApprovalDetail.describe("the M-th approval arrived but the action failed (reason says why)"),
  "approval.expired": ZApprovalDetail.describe("the request expired before enough approvals"),
  "approval.cancelled": ZApprovalDetail.describe("the requester cancelled the request"),
  "quorum.policy": z
    .strictObject({ actions: z.array(z.string()), requiredApprovals: z.number().int(), requireStepUp: z.boolean() })
    .describe("the tenant's quorum policy changed"),
  "factor.enrolled": ZFactorDetail.describe("a console user enrolled a step-up factor"),
  "factor.removed": ZFactorDetail.describe("a console user removed a step-up factor"),
  step_up: ZFactorDetail.describe("a console user stepped up with a factor (or failed to)"),
} as const satisfies Record<AuditAction, ZodType>;

type AuditActionName = keyof typeof DETAIL_OF;

function eventOf<A extends AuditActionName>(action: A) {
  return z.object({ ...auditEventFields, action: z.literal(action), detail: DETAIL_OF[action] });
}

/** One event schema per action, so z.infer gives a union discriminated on `action`. */
type EventSchemaOf = { [A in AuditActionName]: ReturnType<typeof eventOf<A>> }[AuditActionName];
const EVENT_SCHEMAS = (Object.keys(DETAIL_OF) as AuditActionName[]).map(eventOf) as [EventSchemaOf, ...EventSchemaOf[]];

/** One durable audit entry, as the list, the live feed (SSE), webhooks and exports carry it. */
export const ZAuditEvent = z.discriminatedUnion("action", EVENT_SCHEMAS).describe("Audit event; `detail` depends on `action`");
export type AuditEvent = z.infer<typeof ZAuditEvent>;

export const ZAuditPage = z.object({
  events: z.array(ZAuditEvent).describe("newest first"),
  nextCursor: z.string().nullable().describe("pass back as `cursor` for the next (older) page; null when there is none"),
});

export const ZAuditVerifyResult = z.object({
  ok: z.boolean(),
  count: z.number().int().describe("entries checked (up to the first problem)"),
  firstBadEntry: z
    .object({ seq: z.number().int(), id: z.string().nullable(), problem: z.string() })
    .optional()
    .describe("the first entry that is wrong or missing"),
  firstSeq: z.number().int().nullable(),
  lastSeq: z.number().int().nullable(),
  checkpoints: z.number().int().describe("checkpoints whose signature and hash were checked"),
  signedThroughSeq: z.number().int().nullable().describe("highest seq covered by a valid signed checkpoint"),
});

const outcomeCounts = Object.fromEntries(AUDIT_OUTCOMES.map((o) => [o, z.number().int().optional()])) as Record<(typeof AUDIT_OUTCOMES)[number], z.ZodOptional<z.ZodNumber>>;
/** Count per outcome; outcomes without events are absent. */
const ZOutcomeCounts = z.object(outcomeCounts);

export const ZAuditActivity = z.object({
  from: z.string(),
  to: z.string(),
  minutes: z.array(z.object({ minute: z.string().describe("start of the minute, ISO 8601 UTC"), total: z.number().int(), outcomes: ZOutcomeCounts })),
  totals: ZOutcomeCounts,
});

const ZPublicKey = z.object({ keyId: z.string(), publicKeyPem: z.string().describe("Ed25519 public key, SPKI PEM") });
export const ZAuditPublicKeys = z.object({ current: ZPublicKey, all: z.array(ZPublicKey) });

export const ZAuditRetention = z.object({ retentionDays: z.number().int().nullable().describe("null: kept forever") });

export const ZWebhook = z.object({
  id: z.string(),
  tenantId: z.string(),
  url: z.string(),
  cursorSeq: z.number().int().describe("last audit seq delivered with a 2xx"),
  disabledAt: z.string().nullable(),
  createdAt: z.string(),
});
export const ZWebhookList = z.object({ webhooks: z.array(ZWebhook) });
export const ZWebhookCreated = z.object({ webhook: ZWebhook, secret: z.string().describe("HMAC secret; shown once") });

export const ZWebhookDelivery = z.object({
  id: z.string(),
  subscriptionId: z.string(),
  firstSeq: z.number().int(),
  lastSeq: z.number().int(),
  attempt: z.number().int(),
  status: z.number().int().nullable().describe("the receiver's HTTP status; null when it could not be reached"),
  error: z.string().nullable(),
  latencyMs: z.number().nullable(),
  createdAt: z.string(),
});
export const ZWebhookDeliveries = z.object({ deliveries: z.array(ZWebhookDelivery) });
