// This instance's record of failovers to secondary keys (issue 12), per (tenant, class): how many
// unwraps the secondary answered, when last, and whether a failover drill currently forces the
// class's cache misses through the secondary. Memory only: health and the class view report what
// this instance saw; the metric cmek_failover_unwraps_total carries the same count to Prometheus.
import type { KmsMetrics } from "./metrics";

/** A failover counts as "active" in health for this long after the last one. */
export const FAILOVER_ACTIVE_MS = 60_000;

export interface FailoverState {
  active: boolean;
  lastAt: string | null;
  count: number;
}

/** What a drill saw on this instance while it forced the class through the secondary. */
export interface ForcedTally {
  attempted: number;
  succeeded: number;
  failed: number;
  latenciesMs: number[];
  errors: Map<string, number>;
}

interface Entry {
  count: number;
  lastAt: number | null;
  forcedUntil: number;
  tally: ForcedTally | null;
}

const keyOf = (tenantId: string, classId: string | null) => `${tenantId}/${classId ?? "default"}`;
const MAX_TALLY_LATENCIES = 10_000;

export class FailoverMonitor {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly metrics: Pick<KmsMetrics, "failoverUnwraps"> | null,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(tenantId: string, classId: string | null): Entry {
    const k = keyOf(tenantId, classId);
    let e = this.entries.get(k);
    if (!e) {
      e = { count: 0, lastAt: null, forcedUntil: 0, tally: null };
      this.entries.set(k, e);
    }
    return e;
  }

  /** An unwrap the secondary answered (failover or drill). */
  recordFailover(tenantId: string, classId: string | null, provider: string): void {
    const e = this.entry(tenantId, classId);
    e.count++;
    e.lastAt = this.now();
    this.metrics?.failoverUnwraps.inc({ provider });
  }

  state(tenantId: string, classId: string | null): FailoverState {
    const e = this.entries.get(keyOf(tenantId, classId));
    if (!e || e.lastAt === null) return { active: false, lastAt: null, count: e?.count ?? 0 };
    return { active: this.now() - e.lastAt <= FAILOVER_ACTIVE_MS, lastAt: new Date(e.lastAt).toISOString(), count: e.count };
  }

  /** Whether any class of the tenant failed over within the last minute (tenant health). */
  activeForTenant(tenantId: string): boolean {
    const prefix = `${tenantId}/`;
    const now = this.now();
    for (const [k, e] of this.entries) if (k.startsWith(prefix) && e.lastAt !== null && now - e.lastAt <= FAILOVER_ACTIVE_MS) return true;
    return false;
  }

  /** A failover drill: the class's cache misses go through the secondary until `untilMs` (epoch ms). */
  force(tenantId: string, classId: string | null, untilMs: number): void {
    const e = this.entry(tenantId, classId);
    e.forcedUntil = Math.max(e.forcedUntil, untilMs);
    e.tally ??= { attempted: 0, succeeded: 0, failed: 0, latenciesMs: [], errors: new Map() };
  }

  forced(tenantId: string, classId: string | null): boolean {
    const e = this.entries.get(keyOf(tenantId, classId));
    return e !== undefined && e.forcedUntil > this.now();
  }

  /** Counts one unwrap attempted through the secondary while forced. */
  tallyForced(tenantId: string, classId: string | null, ok: boolean, latencyMs: number, code?: string): void {
    const t = this.entries.get(keyOf(tenantId, classId))?.tally;
    if (!t) return;
    t.attempted++;
    if (ok) t.succeeded++;
    else {
      t.failed++;
      const c = code ?? "error";
      t.errors.set(c, (t.errors.get(c) ?? 0) + 1);
    }
    if (t.latenciesMs.length < MAX_TALLY_LATENCIES) t.latenciesMs.push(latencyMs);
  }

  /** Ends a drill's window on this instance and hands back its tally. */
  endForced(tenantId: string, classId: string | null): ForcedTally | null {
    const e = this.entries.get(keyOf(tenantId, classId));
    if (!e) return null;
    e.forcedUntil = 0;
    const t = e.tally;
    e.tally = null;
    return t;
  }

  /** The class went away (removed, or its secondary removed): forget it. */
  forget(tenantId: string, classId: string | null): void {
    this.entries.delete(keyOf(tenantId, classId));
  }
}
