// Revocation drill: a real lock (source "drill"), measured while it spreads to every live
// instance, then lifted the only way any lock is lifted, by a real wrap + unwrap re-validation.
// During the drill the tenant's requests get 423 everywhere, exactly as in a revocation.
//
// Safety rules: a tenant that is already locked is refused (the drill would end that lock);
// the key is validated first, so a drill never starts against a KMS that is down (the drill
// would then have to choose between keeping a lock the KMS did not cause and lifting it unproven);
// a revocation found while re-validating turns the drill lock into a KMS lock, which resumes by
// itself when the key comes back; a kill switch set during the drill is never lifted by it.
import type { AuditActor } from "../audit/types";
import type { BrokerContext } from "./context";
import { BrokerError } from "./errors";
import { validateKeyRoundTrip, type ValidationResult, type ValidationStep } from "./key-validation";

export type DrillOutcome = "completed" | "key_revoked" | "superseded" | "resumed_unverified";

export interface DrillReport {
  outcome: DrillOutcome;
  /** Tenant state after the drill. */
  state: "pending" | "active" | "locked";
  lockedAt: string;
  /** Until every live peer acknowledged the lock; null with no peers, or when one did not answer in time. */
  fanoutMs: number | null;
  /** Other live instances when the lock was published. */
  peers: number;
  unlockedAt: string | null;
  revalidationMs: number;
  totalMs: number;
  validation: { steps: ValidationStep[] };
}

/** An outage while re-validating is retried this many times before giving up (backoff 200, 400, 800 ms). */
const REVALIDATION_ATTEMPTS = 4;

const ms = (v: number) => Math.round(v * 10) / 10;

/** Only what a drill uses: fresh tenant reads, KMS round trips, the lock state machine, the audit log. */
export type DrillDeps = Pick<BrokerContext, "registry" | "kms" | "locks" | "audit">;

export async function runDrill(deps: DrillDeps, actor: AuditActor, slug: string, requestId?: string): Promise<DrillReport> {
  const started = performance.now();
  // Fresh state: another instance may hold a lock this one has not heard of yet.
  const tenant = await deps.registry.load({ slug });
  if (!tenant) throw new BrokerError("tenant_not_found", `no tenant "${slug}"`);
  if (tenant.state === "locked") {
    throw new BrokerError("conflict", `tenant is already locked (${tenant.lockReason ?? "locked"}); a drill would end that lock, so it is refused`, { state: tenant.state, reason: tenant.lockReason });
  }
  if (!tenant.key || tenant.state !== "active") throw new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
  const ref = { provider: tenant.key.provider, keyRef: tenant.key.keyRef };

  const preflight = await validateKeyRoundTrip(deps.kms, tenant.id, ref, actor, { lockOnRevoked: true, requestId });
  if (!preflight.ok) {
    await deps.audit.record({ tenantId: tenant.id, actor, action: "tenant.drill", outcome: preflight.unavailable ? "unavailable" : "revoked", requestId, reason: failureReason(preflight) });
    if (preflight.unavailable) throw new BrokerError("kms_unavailable", "the tenant's KMS is unreachable; the drill did not start", { steps: preflight.steps }, 5);
    throw new BrokerError("grant_invalid", `the key failed validation before the drill (${failureReason(preflight)}); the tenant is locked by the KMS, not by a drill`, { steps: preflight.steps });
  }

  const peers = deps.locks.livePeers().length;
  const lock = await deps.locks.lock(tenant, { source: "drill", reason: "drill", actor, requestId });
  if (!lock.changed) throw new BrokerError("conflict", "tenant was locked concurrently; the drill did not run");
  const lockedAt = lock.tenant.stateSince.toISOString();
  // Wait for the lock to be in force everywhere before lifting it, or the drill measures nothing.
  const fanout = await lock.fanout;

  const revalidationStarted = performance.now();
  let check: ValidationResult = await validateKeyRoundTrip(deps.kms, tenant.id, ref, actor, { lockOnRevoked: true, requestId });
  for (let attempt = 1; !check.ok && check.unavailable && attempt < REVALIDATION_ATTEMPTS; attempt++) {
    await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    check = await validateKeyRoundTrip(deps.kms, tenant.id, ref, actor, { lockOnRevoked: true, requestId });
  }
  const revalidationMs = performance.now() - revalidationStarted;

  let outcome: DrillOutcome;
  if (check.ok || check.unavailable) {
    // An outage is never a revocation: the key worked moments ago (preflight), so an unreachable
    // KMS does not keep the drill's lock in force; the report says the resume was unverified.
    const view = await deps.locks.markActive(tenant, "drill", actor, requestId, "drill");
    outcome = view.state !== "active" ? "superseded" : check.ok ? "completed" : "resumed_unverified";
  } else {
    outcome = "key_revoked";
  }
  const after = (await deps.registry.load({ id: tenant.id })) ?? tenant;
  const report: DrillReport = {
    outcome,
    state: after.state,
    lockedAt,
    fanoutMs: fanout === null ? null : ms(fanout),
    peers,
    unlockedAt: after.state === "active" ? after.stateSince.toISOString() : null,
    revalidationMs: ms(revalidationMs),
    totalMs: ms(performance.now() - started),
    validation: { steps: check.steps },
  };
  await deps.audit.record({
    tenantId: tenant.id,
    actor,
    action: "tenant.drill",
    outcome: outcome === "completed" ? "success" : outcome === "key_revoked" ? "revoked" : outcome === "resumed_unverified" ? "unavailable" : "locked",
    requestId,
    reason: outcome,
    detail: { lockedAt, unlockedAt: report.unlockedAt, fanoutMs: report.fanoutMs, peers, revalidationMs: report.revalidationMs, totalMs: report.totalMs },
  });
  return report;
}

function failureReason(r: ValidationResult): string {
  return `${r.failure?.step}:${r.failure?.reason ?? r.failure?.kind}`;
}
