// What the rest of the broker hands to the audit log. lib/audit turns each entry into a
// hash-chained row; `record` resolves only once the entry is durable (group commit).

export type AuditActorType = "service_token" | "admin_token" | "console_user" | "system";

export interface AuditActor {
  type: AuditActorType;
  id?: string;
  name?: string;
}

export type AuditAction =
  // data path
  | "encrypt"
  | "decrypt"
  // KMS calls made by the broker
  | "kms.wrap"
  | "kms.unwrap"
  | "kms.probe"
  | "kms.describe"
  | "kms.reencrypt"
  // control actions
  | "tenant.create"
  | "key.connect"
  | "key.validate"
  | "key.rotate"
  | "key.rotated"
  | "tenant.lock"
  | "tenant.unlock"
  | "tenant.drill"
  // crypto-shredding: the signed certificate of destruction (lib/audit/shred-certificate.ts)
  | "tenant.shred"
  | "tenant.settings"
  // data classes (issue 12): lib/broker/operations/*-data-class.ts
  | "class.create"
  | "class.remove"
  | "token.create"
  | "token.revoke"
  | "webhook.create"
  | "webhook.delete"
  | "console.login"
  // unauthenticated refusals of one window, summarized (lib/broker/auth-refusals.ts)
  | "auth.refused"
  | "audit.export"
  | "audit.prune"
  // tenant governance (lib/broker/governance)
  | "governance.policy"
  | "governance.break_glass"
  | "alert.raised"
  | "alert.resolved"
  // re-wrap jobs (lib/broker/lifecycle)
  | "rewrap.start"
  | "rewrap.batch"
  | "rewrap.finish"
  | "rewrap.pause"
  | "rewrap.cancel"
  // secondary keys of data classes (issue 12)
  | "secondary.connect"
  | "secondary.remove"
  | "failover.drill"
  // M-of-N approvals and step-up factors (lib/broker/quorum, lib/auth/factors)
  | "approval.requested"
  | "approval.approved"
  | "approval.executed"
  | "approval.failed"
  | "approval.expired"
  | "approval.cancelled"
  | "quorum.policy"
  | "factor.enrolled"
  | "factor.removed"
  | "step_up";

/** "success", or a failure class: "denied", "invalid", "locked", "revoked", "unavailable", "error". */
export type AuditOutcome = "success" | "denied" | "invalid" | "locked" | "revoked" | "unavailable" | "error";

export interface AuditEntryInput {
  tenantId: string;
  time?: Date;
  actor: AuditActor;
  action: AuditAction;
  outcome: AuditOutcome;
  provider?: string;
  keyRef?: string;
  keyVersion?: string | null;
  dekId?: string;
  cacheHit?: boolean;
  latencyMs?: number;
  bytes?: number;
  purpose?: string;
  requestId?: string;
  /** Short machine-readable reason for failures and control actions (e.g. "tenant_locked", "kms:aws:disabled"). */
  reason?: string;
  detail?: Record<string, unknown>;
}

export interface AuditSink {
  /** Resolves when the entry is durable; rejects (AuditUnavailableError) when it cannot be stored. */
  record(entry: AuditEntryInput): Promise<void>;
  /** Records the entries in one group commit (never split across batches); resolves when all are durable. */
  recordAll(entries: readonly AuditEntryInput[]): Promise<void>;
}

export class AuditUnavailableError extends Error {
  override readonly name = "AuditUnavailableError";
}
