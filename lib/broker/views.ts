// How tenants, keys, locks and failures are described to callers: the response shapes the
// operations share, and the typed errors they map KMS and audit failures to.
import type { AuditActor } from "../audit/types";
import type { Database } from "../db/database";
import { BrokerError } from "./errors";
import type { ValidationResult } from "./key-validation";
import type { ClassRef, TenantView } from "./tenant-registry";

export const SYSTEM_ACTOR: AuditActor = { type: "system", name: "broker" };

/** How long a client should wait before retrying after kms_unavailable. */
export const KMS_RETRY_AFTER_S = 5;

export function describeTenant(t: TenantView) {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    state: t.state,
    since: t.stateSince.toISOString(),
    lockReason: t.lockReason,
    lockSource: t.lockSource,
    manualResume: t.manualResume,
    shreddedAt: t.shreddedAt?.toISOString() ?? null,
  };
}
export type TenantInfo = ReturnType<typeof describeTenant>;

export function describeKey(t: TenantView) {
  if (!t.key) return null;
  return {
    id: t.key.connectionId,
    provider: t.key.provider,
    keyId: t.key.keyRef,
    keyVersion: t.key.keyVersion,
    lastValidatedAt: t.key.lastValidatedAt?.toISOString() ?? null,
  };
}
export type KeyInfo = ReturnType<typeof describeKey>;

/** The last lock of the tenant with its time-to-lock, or null if it was never locked. */
export async function describeLastLock(db: Database, tenantId: string) {
  // The tenant's own (the `default` class's); other classes' locks are on their class cards.
  const last = await db.prisma.tenantTransition.findFirst({ where: { tenantId, toState: "locked", dataClass: null }, orderBy: { id: "desc" } });
  return last
    ? {
        cause: last.cause,
        reason: last.reason,
        revokedAt: last.revokedAt?.toISOString() ?? null,
        detectedAt: last.detectedAt?.toISOString() ?? null,
        effectiveAt: last.effectiveAt.toISOString(),
        detectionMs: last.revokedAt && last.detectedAt ? last.detectedAt.getTime() - last.revokedAt.getTime() : null,
        fanoutMs: last.fanoutMs,
      }
    : null;
}

/** 423 for a locked lock scope: the tenant (its `default` class), or one data class of it, named in the answer's `dataClass`. */
export function lockedError(t: TenantView, dataClass?: ClassRef): BrokerError {
  // Shredding also locks the tenant (to wipe every instance's cache); what the caller must learn is that the data is gone.
  if (t.shreddedAt) return shreddedError(t);
  if (dataClass && dataClass.id !== null) {
    const s = dataClass.scope;
    return new BrokerError("tenant_locked", `data class '${dataClass.name}' of the tenant is locked (${s.lockReason ?? "locked"}) since ${s.stateSince.toISOString()}`, {
      reason: s.lockReason,
      since: s.stateSince.toISOString(),
      dataClass: dataClass.name,
    });
  }
  return new BrokerError("tenant_locked", `tenant is locked (${t.lockReason ?? "locked"}) since ${t.stateSince.toISOString()}`, {
    reason: t.lockReason,
    since: t.stateSince.toISOString(),
  });
}

/** 409 for a class (the tenant, for `default`) that has no validated key yet. */
export function notReadyError(dataClass: ClassRef): BrokerError {
  if (dataClass.id === null) return new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
  return new BrokerError("tenant_not_ready", `data class '${dataClass.name}' has no validated key; connect one first`, { dataClass: dataClass.name });
}

/** The audit detail of a data request of `dataClass`: `detail.dataClass` for every class but `default` (whose entries stay as they were). */
export function classDetail(dataClass: ClassRef | undefined, detail?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!dataClass || dataClass.id === null) return detail;
  return { ...detail, dataClass: dataClass.name };
}

export function shreddedError(t: TenantView): BrokerError {
  const at = t.shreddedAt?.toISOString() ?? "";
  return new BrokerError("tenant_shredded", `the tenant's data keys were destroyed (crypto-shredding) at ${at}; its data cannot be decrypted any more`, { shreddedAt: at });
}

/** Refuses any change to a shredded tenant: nothing can bring its data back. */
export function assertNotShredded(t: TenantView): void {
  if (t.shreddedAt) throw shreddedError(t);
}

export function auditFailure(e: unknown): BrokerError {
  if (e instanceof BrokerError) return e;
  return new BrokerError("audit_unavailable", "the audit log cannot record this request right now; no key was used", {}, 2);
}

export function validationError(result: ValidationResult): BrokerError {
  const f = result.failure!;
  const what =
    f.reason === "access_denied"
      ? "the broker's identity is not allowed to use this key (grant or permission missing)"
      : f.reason === "disabled"
        ? "the key is disabled"
        : f.reason === "not_found"
          ? "the key does not exist or is not visible to the broker"
          : f.reason === "pending_deletion" || f.reason === "destroyed"
            ? "the key is scheduled for deletion or destroyed"
            : f.message;
  if (result.unavailable) {
    return new BrokerError("kms_unavailable", `could not reach the KMS during ${f.step}: ${f.message}`, { steps: result.steps }, KMS_RETRY_AFTER_S);
  }
  return new BrokerError("grant_invalid", `${f.step} failed: ${what}`, { step: f.step, reason: f.reason ?? f.kind, providerCode: f.code, steps: result.steps });
}

export function failureReason(r: ValidationResult): string {
  return `${r.failure?.step}:${r.failure?.reason ?? r.failure?.kind}`;
}
