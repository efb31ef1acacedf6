// Least-privilege service tokens (issue 12): a token may be limited to operations (encrypt,
// decrypt) and to data classes. The data path asks here once it knows both the operation and the
// request's class (for decrypt: the ciphertext header's class, before any unwrap). A refusal is
// 403 scope_denied naming both, audited as the request's own entry (outcome denied, reason
// scope_denied). The scope came with the token (ServiceTokenStore's cache): no query here.
import type { AuditEntryInput } from "../audit/types";
import type { Caller, TokenScope } from "../auth/caller";
import type { BrokerContext } from "./context";
import { BrokerError } from "./errors";
import { DEFAULT_CLASS } from "./tenant-registry";
import { auditFailure } from "./views";

export type ScopedOperation = "encrypt" | "decrypt";

/** The audit reason of every scope refusal. */
export const SCOPE_DENIED = "scope_denied";

/**
 * True when the caller may run `op` on class `className`; with no class (not known yet), whether it
 * may run `op` at all. Only service tokens carry a scope.
 */
export function tokenAllows(caller: Caller, op: ScopedOperation, className?: string): boolean {
  if (caller.kind !== "service" || !caller.scope) return true;
  const { operations, dataClasses } = caller.scope;
  return (operations === null || operations.includes(op)) && (className === undefined || dataClasses === null || dataClasses.includes(className));
}

/** The API's error for a request outside the token's scope (not audited: see refuseOutOfScope). */
export function scopeDenied(caller: Caller, op: ScopedOperation, className?: string): BrokerError {
  const scope = caller.kind === "service" ? caller.scope : undefined;
  const opAllowed = !scope?.operations || scope.operations.includes(op);
  const message = opAllowed ? `this token may not use data class '${className}' (its scope: ${describeScope(scope)})` : `this token may not ${op} (its scope: ${describeScope(scope)})`;
  return new BrokerError("scope_denied", message, className === undefined ? { operation: op } : { dataClass: className, operation: op });
}

/** An audit entry's detail for a refusal of class `className`: the class is named unless it is `default` (or not known). */
export function scopeDetail(className: string | undefined, detail?: Record<string, unknown>): Record<string, unknown> | undefined {
  return className === undefined || className === DEFAULT_CLASS ? detail : { ...detail, dataClass: className };
}

/**
 * Passes when the caller may run `op` on `className` (no class: `op` at all); otherwise records
 * the refusal (one entry per item given, outcome denied, reason scope_denied, detail.dataClass)
 * and throws scope_denied. `refusal` is the request's entry without its outcome.
 */
export async function requireTokenScope(
  ctx: Pick<BrokerContext, "audit" | "metrics">,
  caller: Caller,
  op: ScopedOperation,
  className: string | undefined,
  /** The refusal entries (one per item), built only when the scope refuses. */
  refusalOf: () => Omit<AuditEntryInput, "outcome" | "action"> | ReadonlyArray<Omit<AuditEntryInput, "outcome" | "action">>,
): Promise<void> {
  if (tokenAllows(caller, op, className)) return;
  const refusal = refusalOf();
  const list = Array.isArray(refusal) ? (refusal as ReadonlyArray<Omit<AuditEntryInput, "outcome" | "action">>) : [refusal as Omit<AuditEntryInput, "outcome" | "action">];
  const entries: AuditEntryInput[] = list.map((r) => ({ ...r, action: op, outcome: "denied", reason: SCOPE_DENIED, detail: scopeDetail(className, r.detail) }));
  ctx.metrics.dataRequests.inc({ operation: op, outcome: "denied", cache: "none" }, entries.length);
  await (entries.length === 1 ? ctx.audit.record(entries[0]!) : ctx.audit.recordAll(entries)).catch((e) => {
    throw auditFailure(e);
  });
  throw scopeDenied(caller, op, className);
}

/** "encrypt only · pii, billing": the scope as refusals and the console say it. */
export function describeScope(scope: TokenScope | undefined): string {
  const ops = scope?.operations;
  const opText = !ops || ops.length === 2 ? "encrypt and decrypt" : ops.length === 0 ? "no operation" : `${ops[0]} only`;
  const classes = scope?.dataClasses;
  return `${opText} · ${classes ? classes.join(", ") : "every class"}`;
}

/** A scope as the API shows it (ZTokenScope): operations always listed, dataClasses null for every class. */
export function scopeView(scope: TokenScope): { operations: ScopedOperation[]; dataClasses: string[] | null } {
  return { operations: scope.operations ? [...scope.operations] : ["encrypt", "decrypt"], dataClasses: scope.dataClasses ? [...scope.dataClasses] : null };
}
