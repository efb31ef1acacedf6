// The audit vocabulary as runtime lists, for filters and chart legends. No imports beyond
// types, so the console's client bundle can use it without pulling in server code.
import type { AuditAction, AuditOutcome } from "./types";

export const AUDIT_ACTIONS = [
  "encrypt",
  "decrypt",
  "kms.wrap",
  "kms.unwrap",
  "kms.probe",
  "kms.describe",
  "kms.reencrypt",
  "tenant.create",
  "key.connect",
  "key.validate",
  "key.rotate",
  "key.rotated",
  "tenant.lock",
  "tenant.unlock",
  "tenant.drill",
  "tenant.shred",
  "tenant.settings",
  "class.create",
  "class.remove",
  "token.create",
  "token.revoke",
  "webhook.create",
  "webhook.delete",
  "console.login",
  "auth.refused",
  "audit.export",
  "audit.prune",
  "governance.policy",
  "governance.break_glass",
  "alert.raised",
  "alert.resolved",
  "rewrap.start",
  "rewrap.batch",
  "rewrap.finish",
  "rewrap.pause",
  "rewrap.cancel",
  "secondary.connect",
  "secondary.remove",
  "failover.drill",
  "approval.requested",
  "approval.approved",
  "approval.executed",
  "approval.failed",
  "approval.expired",
  "approval.cancelled",
  "quorum.policy",
  "factor.enrolled",
  "factor.removed",
  "step_up",
] as const satisfies readonly AuditAction[];

/** Success first, then failure classes from the most to the least alarming (chart stacking order). */
/** The longest window the activity charts aggregate (minutes). */
export const ACTIVITY_MAX_MINUTES = 24 * 60;

export const AUDIT_OUTCOMES = ["success", "denied", "revoked", "locked", "invalid", "unavailable", "error"] as const satisfies readonly AuditOutcome[];

/** Time ranges the dashboard offers; minutes back from now (null: the whole log). */
export const AUDIT_RANGES = {
  "15m": { label: "Last 15 minutes", minutes: 15 },
  "1h": { label: "Last hour", minutes: 60 },
  "24h": { label: "Last 24 hours", minutes: 24 * 60 },
  "7d": { label: "Last 7 days", minutes: 7 * 24 * 60 },
  all: { label: "All time", minutes: null },
} as const satisfies Record<string, { label: string; minutes: number | null }>;
export type AuditRange = keyof typeof AUDIT_RANGES;

/** The `from` bound of a range, as the list and export APIs take it. */
export function rangeFrom(range: AuditRange, now = Date.now()): string | undefined {
  const m = AUDIT_RANGES[range].minutes;
  return m === null ? undefined : new Date(now - m * 60_000).toISOString();
}

/** What the dashboard filters on; empty strings mean "any". */
export interface AuditFilterState {
  range: AuditRange;
  action: string;
  outcome: string;
  actor: string;
  purpose: string;
  requestId: string;
}

export const EMPTY_AUDIT_FILTERS: AuditFilterState = { range: "all", action: "", outcome: "", actor: "", purpose: "", requestId: "" };

/** True when only the time range is set: every new event then belongs at the top of the list. */
export function isUnfiltered(f: AuditFilterState): boolean {
  return !f.action && !f.outcome && !f.actor.trim() && !f.purpose.trim() && !f.requestId.trim();
}

/** Query string of the list API (GET /audit) for these filters; `now` fixes the range's lower bound. */
export function auditSearchParams(f: AuditFilterState, now = Date.now()): URLSearchParams {
  const p = new URLSearchParams();
  const from = rangeFrom(f.range, now);
  if (from) p.set("from", from);
  if (f.action) p.set("action", f.action);
  if (f.outcome) p.set("outcome", f.outcome);
  if (f.actor.trim()) p.set("actor", f.actor.trim());
  if (f.purpose.trim()) p.set("purpose", f.purpose.trim());
  if (f.requestId.trim()) p.set("requestId", f.requestId.trim());
  return p;
}
