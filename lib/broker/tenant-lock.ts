// The per-tenant lock state machine: pending -> active -> locked -> active.
// A lock destroys the tenant's cached DEKs at once, is written to the database, and only then
// refuses requests on this instance and is broadcast, so that a lock which is acknowledged is
// durable and one whose write failed leaves nothing behind (it used to stay in this instance's
// memory only: not broadcast, not audited, lifted by the next reload). Unlocking always
// re-validates the key with a real wrap + unwrap round trip first.
import type { AuditActor, AuditSink } from "../audit/types";
import type { Database } from "../db/database";
import type { BackgroundErrors } from "../observability/background-errors";
import type { ClusterBus, Envelope } from "./cluster-bus";
import type { DekCache } from "./dek-cache";
import { BrokerError } from "./errors";
import type { KmsMetrics } from "./metrics";
import type { TenantRegistry, TenantView } from "./tenant-registry";

export type LockSource = "kms" | "kill_switch" | "drill";

export interface LockInput {
  source: LockSource;
  reason: string;
  actor: AuditActor;
  detectedAt?: Date;
  revokedAt?: Date;
  requestId?: string;
}

export interface LockOutcome {
  tenant: TenantView;
  /** False when the tenant was already locked. */
  changed: boolean;
  /** Resolves with the measured fan-out (ms until every live peer acknowledged), or null if no peers. */
  fanout: Promise<number | null>;
}

interface PendingAck {
  stateVersion: number;
  startedAt: number;
  waiting: Set<string>;
  acked: number;
  resolve: (ms: number | null) => void;
  timer: NodeJS.Timeout;
}

const PEER_TTL_MS = 15_000;
const ACK_TIMEOUT_MS = 3_000;

export class TenantLockService {
  private peers = new Map<string, number>();
  private pendingAcks = new Map<string, PendingAck>();

  constructor(
    private readonly db: Database,
    private readonly registry: TenantRegistry,
    private readonly cache: DekCache,
    private readonly bus: ClusterBus,
    private readonly audit: AuditSink,
    private readonly metrics: KmsMetrics,
    private readonly backgroundErrors?: BackgroundErrors,
  ) {
    bus.onEvent((e) => this.onClusterEvent(e));
  }

  /** Enforces a committed lock on this instance: no DEK of the tenant survives this call. */
  private enforceLocally(tenant: TenantView, reason: string, source: LockSource, since: Date): void {
    this.cache.dropTenant(tenant.id);
    // The caller's view may no longer be the one requests are served from (a concurrent reload
    // replaces it), so the lock goes on both. Runs once the write committed; applyCommitted sets the version.
    for (const view of new Set([tenant, this.registry.cached(tenant.id)])) {
      if (view && view.state !== "locked") Object.assign(view, { state: "locked", lockReason: reason, lockSource: source, stateSince: since });
    }
  }

  /** Applies a committed transition to the caller's view and to the registry's current one. */
  private applyCommitted(tenant: TenantView, s: Pick<TenantView, "state" | "stateVersion" | "stateSince" | "lockReason" | "lockSource">): void {
    Object.assign(tenant, s);
    this.registry.applyState(tenant.id, s);
  }

  async lock(tenant: TenantView, input: LockInput): Promise<LockOutcome> {
    const now = new Date();
    const wasLocked = tenant.state === "locked";
    // Destroying cached keys claims no state, so it need not wait for the write: loads in flight are voided too.
    this.cache.dropTenant(tenant.id);
    // A kill switch supersedes a KMS-caused lock (it must survive the key coming back), never the reverse.
    // A real revocation found during a drill supersedes the drill's lock, so the drill cannot end it.
    const rows = await this.db.query<{ state_version: number; state_since: Date }>(
      `UPDATE tenant SET state = 'locked', state_version = state_version + 1, state_since = $2, lock_reason = $3, lock_source = $4, updated_at = $2
         WHERE id = $1 AND (state <> 'locked' OR ($4 = 'kill_switch' AND lock_source IS DISTINCT FROM 'kill_switch') OR ($4 = 'kms' AND lock_source = 'drill'))
       RETURNING state_version, state_since`,
      [tenant.id, now, input.reason, input.source],
    );
    const row = rows[0];
    if (!row) {
      await this.registry.load({ id: tenant.id });
      return { tenant, changed: false, fanout: Promise.resolve(null) };
    }
    // Durable now: refuse here (dropping keys loaded during the write), then tell the others.
    this.enforceLocally(tenant, input.reason, input.source, now);
    this.applyCommitted(tenant, {
      state: "locked",
      stateVersion: row.state_version,
      stateSince: new Date(row.state_since),
      lockReason: input.reason,
      lockSource: input.source,
    });
    const fanout = this.expectAcks(tenant.id, row.state_version);
    await this.bus.publish({
      type: "tenant_state",
      tenantId: tenant.id,
      state: "locked",
      stateVersion: row.state_version,
      stateSince: tenant.stateSince.toISOString(),
      lockReason: input.reason,
      lockSource: input.source,
    });
    const effectiveAt = new Date();
    const transition = await this.db.prisma.tenantTransition.create({
      data: {
        tenantId: tenant.id,
        fromState: wasLocked ? "locked" : tenant.key ? "active" : "pending",
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
      detail: { source: input.source, detectedAt: (input.detectedAt ?? now).toISOString(), revokedAt: input.revokedAt?.toISOString() ?? null },
    });
    return { tenant, changed: true, fanout };
  }

  /** Marks the tenant active after a successful re-validation (the caller ran it). */
  /** With `onlyIfSource`, only a lock of that source is lifted (a drill must not end a kill switch set meanwhile). */
  async markActive(tenant: TenantView, cause: "admin" | "probe" | "validation" | "drill", actor: AuditActor, requestId?: string, onlyIfSource?: LockSource): Promise<TenantView> {
    const now = new Date();
    const from = tenant.state;
    const rows = await this.db.query<{ state_version: number }>(
      `UPDATE tenant SET state = 'active', state_version = state_version + 1, state_since = $2, lock_reason = NULL, lock_source = NULL, updated_at = $2
         WHERE id = $1 AND state <> 'active' AND ($3::text IS NULL OR lock_source = $3::text) RETURNING state_version`,
      [tenant.id, now, onlyIfSource ?? null],
    );
    const row = rows[0];
    if (!row) return (await this.registry.load({ id: tenant.id })) ?? tenant;
    this.applyCommitted(tenant, { state: "active", stateVersion: row.state_version, stateSince: now, lockReason: null, lockSource: null });
    await this.bus.publish({
      type: "tenant_state",
      tenantId: tenant.id,
      state: "active",
      stateVersion: row.state_version,
      stateSince: now.toISOString(),
      lockReason: null,
      lockSource: null,
    });
    await this.db.prisma.tenantTransition.create({
      data: { tenantId: tenant.id, fromState: from, toState: "active", cause, actor: actorLabel(actor), effectiveAt: now },
    });
    // A deletion window shown while locked is over once the key works again (the deletion was cancelled).
    await this.db.query(`UPDATE key_connection SET unrecoverable_after = NULL WHERE tenant_id = $1 AND unrecoverable_after IS NOT NULL`, [tenant.id]);
    if (from === "locked") {
      await this.audit.record({ tenantId: tenant.id, actor, action: "tenant.unlock", outcome: "success", reason: cause, requestId });
    }
    return tenant;
  }

  private expectAcks(tenantId: string, stateVersion: number): Promise<number | null> {
    const now = Date.now();
    const live = [...this.peers].filter(([id, seen]) => id !== this.bus.instanceId && now - seen < PEER_TTL_MS).map(([id]) => id);
    if (live.length === 0) return Promise.resolve(null);
    const key = `${tenantId}:${stateVersion}`;
    return new Promise((resolve) => {
      const pending: PendingAck = {
        stateVersion,
        startedAt: performance.now(),
        waiting: new Set(live),
        acked: 0,
        resolve,
        timer: setTimeout(() => {
          this.pendingAcks.delete(key);
          resolve(null);
        }, ACK_TIMEOUT_MS),
      };
      this.pendingAcks.set(key, pending);
    });
  }

  private onClusterEvent(e: Envelope): void {
    this.peers.set(e.origin, Date.now());
    if (e.origin === this.bus.instanceId) return;
    if (e.type === "tenant_state") {
      const applied = this.registry.applyState(e.tenantId, {
        state: e.state,
        stateVersion: e.stateVersion,
        stateSince: new Date(e.stateSince),
        lockReason: e.lockReason,
        lockSource: e.lockSource,
      });
      if (e.state === "locked") this.cache.dropTenant(e.tenantId);
      else if (!applied) this.registry.invalidate(e.tenantId);
      // A lost ack only leaves the deciding instance's fan-out measurement open (it times out); reported.
      void this.bus.publish({ type: "ack", tenantId: e.tenantId, stateVersion: e.stateVersion, appliedAt: Date.now() }).catch((err: unknown) => this.backgroundErrors?.report("lock.ack", err));
    } else if (e.type === "ack") {
      const pending = this.pendingAcks.get(`${e.tenantId}:${e.stateVersion}`);
      if (pending && pending.waiting.delete(e.origin) && pending.waiting.size === 0) {
        clearTimeout(pending.timer);
        this.pendingAcks.delete(`${e.tenantId}:${e.stateVersion}`);
        pending.resolve(performance.now() - pending.startedAt);
      }
    }
  }

  livePeers(): string[] {
    const now = Date.now();
    return [...this.peers].filter(([id, seen]) => id !== this.bus.instanceId && now - seen < PEER_TTL_MS).map(([id]) => id);
  }

  assertNotLocked(tenant: TenantView): void {
    if (tenant.state === "locked") {
      throw new BrokerError("tenant_locked", `tenant is locked (${tenant.lockReason ?? "locked"}) since ${tenant.stateSince.toISOString()}`, {
        reason: tenant.lockReason,
        since: tenant.stateSince.toISOString(),
      });
    }
  }
}

export function actorLabel(actor: AuditActor): string {
  return [actor.type, actor.name ?? actor.id].filter(Boolean).join(":");
}
