// Deletion windows. A tenant that schedules its key for deletion is locked like any revocation
// (the key answers "pending deletion", "destroy scheduled" or, on Azure, "not found" once
// soft-deleted). Until the deletion is final the tenant can still cancel it and get its data
// back; afterwards nothing can. This records that date, as the KMS reports it (AWS DeletionDate,
// GCP destroyTime of the primary version, Azure scheduledPurgeDate), on the key connection, so
// that every instance's status API and the console can show it with the days left.
import type { AuditActor } from "../audit/types";
import type { KmsError } from "../kms/types";
import type { BrokerContext } from "./context";
import type { TenantView } from "./tenant-registry";

/** Revocation reasons that may mean a scheduled deletion (Azure reports a soft-deleted key as not found). */
const DELETION_REASONS = new Set(["pending_deletion", "destroyed", "not_found"]);

const ACTOR: AuditActor = { type: "system", name: "deletion-window" };
const DAY_MS = 86_400_000;

export type DeletionWindowDeps = Pick<BrokerContext, "db" | "kms">;

/**
 * After a revoked answer on the tenant's key: asks the KMS when a scheduled deletion becomes final
 * and stores it, or clears a stored date when the answer no longer means a deletion (e.g. AWS
 * leaves a key Disabled once its deletion is cancelled). A KMS that will not tell (the broker may
 * lack the read permission) leaves the date unknown (null): the lock itself does not depend on it.
 */
export async function recordDeletionWindow(ctx: DeletionWindowDeps, tenant: TenantView, err: KmsError): Promise<void> {
  const key = tenant.key;
  if (!key) return;
  let date: Date | null = null;
  if (DELETION_REASONS.has(err.reason ?? "")) {
    try {
      date = await ctx.kms.scheduledDeletion({ provider: key.provider, keyRef: key.keyRef }, { tenantId: tenant.id, actor: ACTOR });
    } catch {
      // Already audited and counted by the gateway; the date stays unknown, which the status says.
      date = null;
    }
  }
  await ctx.db.query(`UPDATE key_connection SET unrecoverable_after = $3 WHERE id = $1 AND tenant_id = $2 AND unrecoverable_after IS DISTINCT FROM $3`, [
    key.connectionId,
    tenant.id,
    date,
  ]);
}

/**
 * What the lock-on-revocation hook runs: one reading per tenant at a time, in the background (a
 * burst of refused requests, or every probe of a locked tenant, costs at most one KMS read in flight).
 */
export function deletionWindowRecorder(ctx: DeletionWindowDeps & Pick<BrokerContext, "backgroundErrors">) {
  const inFlight = new Set<string>();
  return (tenant: TenantView, err: KmsError): void => {
    if (inFlight.has(tenant.id)) return;
    inFlight.add(tenant.id);
    void ctx.backgroundErrors.guard("deletion.window", () => recordDeletionWindow(ctx, tenant, err)).finally(() => inFlight.delete(tenant.id));
  };
}

/** The deletion window as the status API shows it, or null when no deletion is known to be pending. */
export async function describeDeletionWindow(ctx: Pick<BrokerContext, "db">, tenant: TenantView, now = Date.now()) {
  if (!tenant.key || tenant.state !== "locked" || tenant.lockSource !== "kms") return null;
  const rows = await ctx.db.query<{ unrecoverable_after: Date | null }>(`SELECT unrecoverable_after FROM key_connection WHERE id = $1 AND tenant_id = $2`, [
    tenant.key.connectionId,
    tenant.id,
  ]);
  const at = rows[0]?.unrecoverable_after;
  if (!at) return null;
  const when = new Date(at);
  return { unrecoverableAfter: when.toISOString(), daysLeft: Math.max(0, Math.ceil((when.getTime() - now) / DAY_MS)) };
}
