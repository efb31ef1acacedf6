// The lock state machine of each lock scope: pending -> active -> locked -> active. A tenant's
// scopes are its data classes: `default` is the tenant row itself (lock state on `tenant`), every
// other class has its own data_class row with the same columns and the same rules
// (lib/broker/lock-scope-sql.ts), so revoking one class's key locks that class only.
// A lock destroys the scope's cached DEKs at once, is written to the database, and only then
// refuses requests on this instance and is broadcast (`tenant_state` for default, `class_state`
// for the others), so that a lock which is acknowledged is durable and one whose write failed
// leaves nothing behind. Unlocking always re-validates the key with a real wrap + unwrap round
// trip first (the callers run it).
import type { AuditActor, AuditSink } from "../audit/types";
import type { Database } from "../db/database";
import type { BackgroundErrors } from "../observability/background-errors";
import type { ClusterBus, ClusterEvent, Envelope } from "./cluster-bus";
import type { DekCache } from "./dek-cache";
import { BrokerError } from "./errors";
import { ackKey, LockFanout } from "./lock-fanout";
import { activateScopeRow, lockScopeRow } from "./lock-scope-sql";
import type { KmsMetrics } from "./metrics";
import { classByName, type ClassRef, type ClassScope, type ClassState, type TenantRegistry, type TenantView } from "./tenant-registry";

export type LockSource = "kms" | "kill_switch" | "drill";

/** The reason crypto-shredding locks with: such a lock wipes every class's cached DEKs, not only default's. */
export const SHREDDED_LOCK_REASON = "tenant_shredded";

export interface LockInput {
  source: LockSource;
  reason: string;
  actor: AuditActor;
  detectedAt?: Date;
  revokedAt?: Date;
  requestId?: string;
  /** The class to lock; absent (or `default`): the tenant row, as before classes existed. */
  dataClass?: string;
}

export interface LockOutcome {
  tenant: TenantView;
  /** The class that was locked (`default`: the tenant row). */
  dataClass: string;
  /** False when the scope was already locked. */
  changed: boolean;
  /** Resolves with the measured fan-out (ms until every live peer acknowledged), or null if no peers. */
  fanout: Promise<number | null>;
}

export type ActivationCause = "admin" | "probe" | "validation" | "drill";

/** The class of the tenant by name; a typed 404 when it has none. */
export function requireClass(tenant: TenantView, dataClass: string | undefined): ClassRef {
  const cls = classByName(tenant, dataClass);
  if (!cls) throw new BrokerError("not_found", `tenant has no data class '${dataClass}'`, { dataClass });
  return cls;
}

/** The audit detail that names a non-default class (none for `default`: its entries stay as they were). */
export function classDetail(cls: Pick<ClassRef, "id" | "name">): { dataClass?: string } {
  return cls.id === null ? {} : { dataClass: cls.name };
}

export class TenantLockService {
  private readonly fanouts: LockFanout;

  constructor(
    private readonly db: Database,
    private readonly registry: TenantRegistry,
    private readonly cache: DekCache,
    private readonly bus: ClusterBus,
    private readonly audit: AuditSink,
    private readonly metrics: KmsMetrics,
    private readonly backgroundErrors?: BackgroundErrors,
  ) {
    this.fanouts = new LockFanout(bus.instanceId);
    bus.onEvent((e) => this.onClusterEvent(e));
  }

  /** Destroys the scope's cached DEKs; a shredding lock takes every class's with it. */
  private dropKeys(tenantId: string, classId: string | null, reason: string | null): void {
    if (classId === null && reason === SHREDDED_LOCK_REASON) this.cache.dropTenant(tenantId);
    else this.cache.dropClass(tenantId, classId);
  }

  /** The same scope in the registry's current view of the tenant (requests are served from that one). */
  private currentScope(tenantId: string, cls: ClassRef): ClassScope | undefined {
    const view = this.registry.cached(tenantId);
    if (!view) return undefined;
    if (cls.id === null) return view;
    const c = view.classes.get(cls.name);
    return c?.id === cls.id ? c : undefined;
  }

  /** Enforces a committed lock on this instance: no DEK of the scope survives this call. */
  private enforceLocally(tenantId: string, cls: ClassRef, reason: string, source: LockSource, since: Date): void {
    this.dropKeys(tenantId, cls.id, reason);
    // The caller's view may no longer be the one requests are served from (a concurrent reload
    // replaces it), so the lock goes on both. Runs once the write committed; applyCommitted sets the version.
    for (const view of new Set([cls.scope, this.currentScope(tenantId, cls)])) {
      if (view && view.state !== "locked") Object.assign(view, { state: "locked", lockReason: reason, lockSource: source, stateSince: since });
    }
  }

  /** Applies a committed transition to the caller's view and to the registry's current one. */
  private applyCommitted(tenantId: string, cls: ClassRef, s: ClassState): void {
    Object.assign(cls.scope, s);
    if (cls.id === null) this.registry.applyState(tenantId, s);
    else this.registry.applyClassState(tenantId, cls.id, s);
  }

  private stateEvent(tenantId: string, cls: ClassRef, s: ClassState): ClusterEvent {
    const common = { tenantId, state: s.state, stateVersion: s.stateVersion, stateSince: s.stateSince.toISOString(), lockReason: s.lockReason, lockSource: s.lockSource };
    return cls.id === null ? { type: "tenant_state", ...common } : { type: "class_state", classId: cls.id, dataClass: cls.name, ...common };
  }

  async lock(tenant: TenantView, input: LockInput): Promise<LockOutcome> {
    const cls = requireClass(tenant, input.dataClass);
    const now = new Date();
    const wasLocked = cls.scope.state === "locked";
    // Destroying cached keys claims no state, so it need not wait for the write: loads in flight are voided too.
    this.dropKeys(tenant.id, cls.id, input.reason);
    const row = await lockScopeRow(this.db, tenant.id, cls.id, now, input.reason, input.source);
    if (!row) {
      await this.registry.load({ id: tenant.id });
      return { tenant, dataClass: cls.name, changed: false, fanout: Promise.resolve(null) };
    }
    // Durable now: refuse here (dropping keys loaded during the write), then tell the others.
    this.enforceLocally(tenant.id, cls, input.reason, input.source, now);
    const state: ClassState = { state: "locked", stateVersion: row.stateVersion, stateSince: row.stateSince, lockReason: input.reason, lockSource: input.source };
    this.applyCommitted(tenant.id, cls, state);
    const fanout = this.fanouts.expect(ackKey(tenant.id, cls.id, row.stateVersion));
    await this.bus.publish(this.stateEvent(tenant.id, cls, state));
    const effectiveAt = new Date();
    const transition = await this.db.prisma.tenantTransition.create({
      data: {
        tenantId: tenant.id,
        dataClass: cls.id === null ? null : cls.name,
        fromState: wasLocked ? "locked" : cls.scope.key ? "active" : "pending",
        toState: "locked",
        cause: input.source,
        reason: input.reason,
        actor: actorLabel(input.actor),
        revokedAt: input.revokedAt,
        detectedAt: input.detectedAt ?? now,
        effectiveAt,
      },
    });
    this.metrics.locks.inc({ cause: input.source });
    const start = input.revokedAt ?? input.detectedAt;
    if (start) this.metrics.lockDetection.observe({ cause: input.source }, Math.max(0, now.getTime() - start.getTime()) / 1000);
    void fanout.then(async (ms) => {
      if (ms === null) return;
      this.metrics.lockFanout.observe({ cause: input.source }, ms / 1000);
      // Only the measurement is lost if this fails (the lock itself is committed); it is reported.
      await this.db.prisma.tenantTransition.update({ where: { id: transition.id }, data: { fanoutMs: Math.round(ms) } }).catch((e: unknown) => this.backgroundErrors?.report("lock.fanout_write", e));
    });
    await this.audit.record({
      tenantId: tenant.id,
      actor: input.actor,
      action: input.source === "drill" ? "tenant.drill" : "tenant.lock",
      outcome: "success",
      reason: input.reason,
      requestId: input.requestId,
      detail: { source: input.source, detectedAt: (input.detectedAt ?? now).toISOString(), revokedAt: input.revokedAt?.toISOString() ?? null, ...classDetail(cls) },
    });
    return { tenant, dataClass: cls.name, changed: true, fanout };
  }

  /**
   * Marks the scope active after a successful re-validation (the caller ran it). With
   * `onlyIfSource`, only a lock of that source is lifted (a drill must not end a kill switch set
   * meanwhile). `dataClass` absent: the tenant row (`default`). A class without a key goes back
   * to `pending` (a kill switch can lock it before its key is connected).
   */
  async markActive(tenant: TenantView, cause: ActivationCause, actor: AuditActor, requestId?: string, onlyIfSource?: LockSource, dataClass?: string): Promise<TenantView> {
    const cls = requireClass(tenant, dataClass);
    const now = new Date();
    const from = cls.scope.state;
    const to = cls.id !== null && !cls.scope.key ? "pending" : "active";
    const row = await activateScopeRow(this.db, tenant.id, cls.id, now, to, onlyIfSource ?? null);
    if (!row) return (await this.registry.load({ id: tenant.id })) ?? tenant;
    const state: ClassState = { state: to, stateVersion: row.stateVersion, stateSince: now, lockReason: null, lockSource: null };
    this.applyCommitted(tenant.id, cls, state);
    await this.bus.publish(this.stateEvent(tenant.id, cls, state));
    await this.db.prisma.tenantTransition.create({
      data: { tenantId: tenant.id, dataClass: cls.id === null ? null : cls.name, fromState: from, toState: to, cause, actor: actorLabel(actor), effectiveAt: now },
    });
    // A deletion window shown while locked is over once the key works again (the deletion was cancelled).
    await this.db.query(`UPDATE key_connection SET unrecoverable_after = NULL WHERE tenant_id = $1 AND data_class_id IS NOT DISTINCT FROM $2::uuid AND unrecoverable_after IS NOT NULL`, [
      tenant.id,
      cls.id,
    ]);
    if (from === "locked") {
      await this.audit.record({ tenantId: tenant.id, actor, action: "tenant.unlock", outcome: "success", reason: cause, requestId, ...(cls.id === null ? {} : { detail: classDetail(cls) }) });
    }
    return tenant;
  }

  private onClusterEvent(e: Envelope): void {
    this.fanouts.seen(e.origin);
    if (e.origin === this.bus.instanceId) return;
    if (e.type === "tenant_state" || e.type === "class_state") {
      const s: ClassState = { state: e.state, stateVersion: e.stateVersion, stateSince: new Date(e.stateSince), lockReason: e.lockReason, lockSource: e.lockSource };
      const classId = e.type === "class_state" ? e.classId : null;
      const applied = classId === null ? this.registry.applyState(e.tenantId, s) : this.registry.applyClassState(e.tenantId, classId, s);
      if (e.state === "locked") this.dropKeys(e.tenantId, classId, e.lockReason);
      // A class this instance does not know yet (created after its view loaded) is read fresh.
      if (!applied && (e.state !== "locked" || classId !== null)) this.registry.invalidate(e.tenantId);
      // A lost ack only leaves the deciding instance's fan-out measurement open (it times out); reported.
      void this.bus
        .publish({ type: "ack", tenantId: e.tenantId, stateVersion: e.stateVersion, appliedAt: Date.now(), ...(classId === null ? {} : { classId }) })
        .catch((err: unknown) => this.backgroundErrors?.report("lock.ack", err));
    } else if (e.type === "ack") {
      this.fanouts.acked(e.origin, ackKey(e.tenantId, e.classId, e.stateVersion));
    }
  }

  livePeers(): string[] {
    return this.fanouts.livePeers();
  }
}

export function actorLabel(actor: AuditActor): string {
  return [actor.type, actor.name ?? actor.id].filter(Boolean).join(":");
}
