// How a tenant's data classes are described to callers: the class card (ZDataClass: lock state,
// primary and secondary key with their last probe, this instance's key health, DEK counts, the
// last lock), the health page's class (plus its lock history), and the short lock-state list
// status and tenant responses carry. One module, so the secondary key's coverage and failover
// (classes-secondary) extend the same builder. A few queries per call, for all classes at once.
import type { Database } from "../db/database";
import type { FailoverMonitor } from "./failover-monitor";
import type { KeyHealthTracker } from "./key-health";
import { secondaryStates } from "./secondary-view";
import { allClasses, classByName, type ClassRef, type ConnectedKey, type TenantView } from "./tenant-registry";

export type ClassViewDeps = { db: Database; health: KeyHealthTracker; failover: FailoverMonitor };

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

/** The lock state of every class, `default` first. */
export function describeClassStates(tenant: TenantView) {
  return allClasses(tenant).map((c) => ({ name: c.name, state: c.scope.state, since: c.scope.stateSince.toISOString(), reason: c.scope.lockReason, lockSource: c.scope.lockSource }));
}

type ProbeRow = { id: string; last_probe_at: Date | null; last_probe_outcome: string | null; last_probe_latency_ms: number | null; last_error: string | null };
/** A tenant_transition row into `locked`, as the lock-history queries select it. */
export type LockTransitionRow = { id: string; cause: string; reason: string | null; revoked_at: Date | null; detected_at: Date | null; effective_at: Date; fanout_ms: number | null };
type LockRow = LockTransitionRow & { data_class: string | null };

function describeClassKey(key: ConnectedKey | null, role: "primary" | "secondary", probes: Map<string, ProbeRow>) {
  if (!key) return null;
  const p = probes.get(key.connectionId);
  return {
    id: key.connectionId,
    provider: key.provider,
    keyId: key.keyRef,
    keyVersion: key.keyVersion,
    lastValidatedAt: key.lastValidatedAt?.toISOString() ?? null,
    role,
    probe: p ? { lastProbeAt: iso(p.last_probe_at), outcome: p.last_probe_outcome, latencyMs: p.last_probe_latency_ms, lastError: p.last_error } : null,
  };
}

/** ZClassLockEntry of one lock: when it was revoked, detected and enforced, and the time-to-lock between them. */
export function describeLock(l: LockTransitionRow) {
  return {
    id: l.id,
    cause: l.cause,
    reason: l.reason,
    revokedAt: iso(l.revoked_at),
    detectedAt: iso(l.detected_at),
    effectiveAt: iso(l.effective_at)!,
    // Time-to-lock: from the revocation (when known) to enforcement.
    timeToLockMs: l.revoked_at ? new Date(l.effective_at).getTime() - new Date(l.revoked_at).getTime() : null,
    detectionMs: l.revoked_at && l.detected_at ? new Date(l.detected_at).getTime() - new Date(l.revoked_at).getTime() : null,
    fanoutMs: l.fanout_ms,
  };
}

/**
 * Class cards of the tenant (`names`: only those, in that order; default: every class, `default`
 * first). With `history`, each card also lists its last `history` locks (the health page).
 */
export async function describeDataClasses(deps: ClassViewDeps, tenant: TenantView, opts: { names?: string[]; history?: number } = {}) {
  const classes: ClassRef[] = opts.names ? opts.names.map((n) => classByName(tenant, n)).filter((c): c is ClassRef => c !== undefined) : allClasses(tenant);
  const keyIds = classes.flatMap((c) => [c.scope.key?.connectionId, c.scope.secondary?.connectionId]).filter((id): id is string => !!id);
  const probes = new Map(
    (
      await deps.db.query<ProbeRow>(`SELECT id, last_probe_at, last_probe_outcome, last_probe_latency_ms, last_error FROM key_connection WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
        tenant.id,
        keyIds,
      ])
    ).map((r) => [r.id, r]),
  );
  const deks = new Map(
    (
      await deps.db.query<{ data_class_id: string | null; active: string; total: string }>(
        `SELECT data_class_id, count(*) FILTER (WHERE retired_at IS NULL)::text AS active, count(*)::text AS total FROM data_key WHERE tenant_id = $1 GROUP BY data_class_id`,
        [tenant.id],
      )
    ).map((r) => [r.data_class_id, { active: Number(r.active), total: Number(r.total) }]),
  );
  // The newest `limit` locks of each class (data_class NULL: default).
  const limit = Math.max(1, opts.history ?? 1);
  const locks = await deps.db.query<LockRow>(
    `SELECT id::text, data_class, cause, reason, revoked_at, detected_at, effective_at, fanout_ms FROM (
       SELECT *, row_number() OVER (PARTITION BY data_class ORDER BY id DESC) AS n FROM tenant_transition WHERE tenant_id = $1 AND to_state = 'locked'
     ) x WHERE n <= $2 ORDER BY id DESC`,
    [tenant.id, limit],
  );
  const secondary = await secondaryStates(deps, tenant, classes.map((c) => c.name));
  return classes.map((c) => {
    const mine = locks.filter((l) => l.data_class === (c.id === null ? null : c.name));
    const last = mine[0];
    const card = {
      name: c.name,
      state: c.scope.state,
      since: c.scope.stateSince.toISOString(),
      reason: c.scope.lockReason,
      lockSource: c.scope.lockSource,
      key: describeClassKey(c.scope.key, "primary", probes),
      secondary: describeClassKey(c.scope.secondary, "secondary", probes),
      // The secondary's coverage of the class (null without one) and this instance's failovers (lib/broker/secondary-view.ts).
      coverage: secondary.get(c.name)?.coverage ?? null,
      failover: secondary.get(c.name)?.failover ?? { active: false, lastAt: null, count: 0 },
      health: c.scope.key ? deps.health.snapshotKey(tenant.id, c.scope.key) : null,
      deks: deks.get(c.id) ?? { active: 0, total: 0 },
      lastLock: last
        ? { cause: last.cause, reason: last.reason, revokedAt: iso(last.revoked_at), detectedAt: iso(last.detected_at), effectiveAt: iso(last.effective_at)!, detectionMs: describeLock(last).detectionMs, fanoutMs: last.fanout_ms }
        : null,
    };
    return opts.history ? { ...card, locks: mine.map(describeLock) } : card;
  });
}

export type DataClassInfo = Awaited<ReturnType<typeof describeDataClasses>>[number];

/** One class card. */
export async function describeDataClass(deps: ClassViewDeps, tenant: TenantView, name: string): Promise<DataClassInfo> {
  const [card] = await describeDataClasses(deps, tenant, { names: [name] });
  return card!;
}
