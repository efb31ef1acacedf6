// The active prober: probes each key worth probing once per interval, cluster-wide.
//
// Which keys: those of tenants with DEKs cached on some instance (each instance reports the
// tenants it holds DEKs for, in one batched upsert per interval), of tenants whose KMS this
// instance recently saw unreachable (so "kms_unreachable" clears by itself), and of tenants the
// KMS locked (to notice restoration and resume). An idle tenant is never probed: its next request
// reaches the KMS anyway, so probing it would cost KMS calls and detect nothing.
//
// One probe per key per interval across the cluster: due rows of key_probe are claimed in one
// statement (FOR UPDATE SKIP LOCKED) that also moves next_probe_at one interval ahead and leases
// the row to this instance until the probe ends, so neither a concurrent claim nor a slow probe
// overlapping the next interval can make two instances probe the same key.
//
// Jitter is applied early, never late: the next probe comes after interval × U(1 − jitter, 1),
// so the interval stays an upper bound on the gap between probes (and time-to-lock stays within
// interval + probe latency), at the cost of ~jitter/2 more probes than one per interval.
import { Gauge } from "prom-client";
import type { VendorFaultMonitor } from "./vendor-faults";
import type { DekCache } from "./dek-cache";
import type { KeyHealthTracker } from "./key-health";
import type { KmsMetrics } from "./metrics";
import { CLAIM_SQL, RECORD_ACTIVITY_SQL } from "./probe-schedule-sql";
import { probeTarget, probeTenantKey, type ProbeDeps, type ProbeOptions, type ProbeResult } from "./probe";
import { ProbeCounters, type ProberStats } from "./probe-counters";

export type { ProberStats } from "./probe-counters";

/** Only what the prober uses: a probe's dependencies, plus the cache and health views that say which keys to probe. */
export type ProberDeps = ProbeDeps & { cache: DekCache; health: KeyHealthTracker; metrics: KmsMetrics; instanceId: string; vendorFaults: Pick<VendorFaultMonitor, "faultedWithin"> };

export interface ProberOptions {
  intervalMs: number;
  /** Interval for keys whose tenant the KMS locked. */
  lockedIntervalMs: number;
  /** Scheduled probes in flight on this instance. */
  concurrency: number;
  /** Fraction of the interval a probe may come early (default 0.2). */
  jitter?: number;
  /** How often due keys are claimed; default interval/10, between 50 ms and 1 s. */
  tickMs?: number;
  /** KMS call timeout; the lease must outlive a probe that hits it on every attempt. */
  kmsTimeoutMs?: number;
}


/** How long after its last unavailable answer a tenant's key keeps being probed without DEKs cached. */
const UNREACHABLE_FOLLOW_MS = 10 * 60_000;
/** Unavailable answers back off exponentially up to this many intervals. */
const MAX_BACKOFF_INTERVALS = 4;

type Claimed = {
  key_connection_id: string;
  tenant_id: string;
  consecutive_failures: number;
  kms_locked: boolean;
};

export class Prober {
  private readonly intervalMs: number;
  private readonly lockedIntervalMs: number;
  private readonly concurrency: number;
  private readonly jitter: number;
  private readonly tickMs: number;
  private readonly leaseMs: number;
  private readonly activityPeriodMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> | null = null;
  private inFlight = new Set<Promise<unknown>>();
  private lastActivityFlush = 0;
  private lastNewTenantCheck = 0;
  private flushedTenants = new Set<string>();
  private onDemand = new Map<string, { running: Promise<ProbeResult>; trailing: Promise<ProbeResult> | null }>();
  private readonly counters: ProbeCounters;

  constructor(
    private readonly broker: ProberDeps,
    opts: ProberOptions,
  ) {
    this.intervalMs = opts.intervalMs;
    this.lockedIntervalMs = opts.lockedIntervalMs;
    this.concurrency = opts.concurrency;
    this.jitter = Math.min(Math.max(opts.jitter ?? 0.2, 0), 0.9);
    this.tickMs = opts.tickMs ?? Math.min(1000, Math.max(50, Math.floor(Math.min(opts.intervalMs, opts.lockedIntervalMs) / 10)));
    this.leaseMs = Math.max(10_000, 8 * (opts.kmsTimeoutMs ?? 2000));
    // Activity is reported once per interval (not per request); capped so a very long interval
    // still notices newly idle tenants within minutes.
    this.activityPeriodMs = Math.min(opts.intervalMs, 60_000);
    const registry = broker.metrics.registry;
    this.counters = new ProbeCounters(registry);
    const inFlight: Gauge = new Gauge({ name: "cmek_probes_in_flight", help: "Scheduled probes running on this instance", registers: [registry], collect: () => inFlight.set(this.inFlight.size) });
    const kmsRate: Gauge = new Gauge({ name: "cmek_probe_kms_calls_per_second", help: "KMS calls made by probes on this instance, last 60 s", registers: [registry], collect: () => kmsRate.set(this.stats().kmsCallsPerSecond) });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.counters.startedAt = Date.now();
    this.schedule(0);
  }

  /** Stops claiming and waits (bounded) for probes in flight, so none outlives the database handle. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // `ticking` already reports its own failure (see schedule), so it cannot reject here.
    await this.ticking;
    const pending = [...this.inFlight, ...[...this.onDemand.values()].flatMap((d) => [d.running, d.trailing ?? d.running])];
    await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick()
        .catch((e: unknown) => this.broker.backgroundErrors.report("prober.tick", e))
        .finally(() => {
          this.ticking = null;
          this.schedule(this.tickMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One scheduler step: report activity when due, then claim and start due probes up to the cap. */
  async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastActivityFlush >= this.activityPeriodMs) {
      await this.recordActivity();
    } else if (now - this.lastNewTenantCheck >= Math.min(1000, this.activityPeriodMs)) {
      // A tenant that just got DEKs cached must not wait a whole period to be probed: its DEK
      // unwrap was the last check, and the bound is one interval from there.
      this.lastNewTenantCheck = now;
      const cached = this.broker.cache.tenantsWithCachedKeys();
      for (const t of cached) {
        if (!this.flushedTenants.has(t)) {
          await this.recordActivity(cached);
          break;
        }
      }
    }
    const room = this.concurrency - this.inFlight.size;
    if (room <= 0 || !this.running) return;
    // An instance whose own KMS credentials are refused can probe nothing: leave the keys to the others.
    if (this.broker.vendorFaults.faultedWithin(Math.max(10_000, 3 * this.intervalMs))) return;
    const claimed = await this.claim(room);
    for (const row of claimed) {
      const p = this.runScheduled(row).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  /**
   * One batched upsert: marks keys of tenants this instance holds DEKs for (or recently found
   * unreachable) as active, and makes sure keys of KMS-locked tenants have a schedule row.
   */
  async recordActivity(cached = this.broker.cache.tenantsWithCachedKeys()): Promise<number> {
    const now = Date.now();
    this.lastActivityFlush = now;
    this.lastNewTenantCheck = now;
    const ids = new Set(cached);
    for (const t of this.broker.health.unreachableTenants(UNREACHABLE_FOLLOW_MS, now)) ids.add(t);
    const list = [...ids];
    const rows = await this.broker.db.query<{ n: number }>(
      RECORD_ACTIVITY_SQL,
      [list],
    );
    this.flushedTenants = new Set(cached);
    this.counters.activityFlushes++;
    return rows[0]?.n ?? 0;
  }

  private async claim(limit: number): Promise<Claimed[]> {
    this.counters.claims++;
    // Active = reported within 2.5 activity periods (one missed report is tolerated).
    const activeWindowMs = 2.5 * this.activityPeriodMs + 1000;
    return this.broker.db.query<Claimed>(
      CLAIM_SQL,
      [this.broker.instanceId, this.leaseMs, this.lockedIntervalMs, this.intervalMs, this.jitter, activeWindowMs, limit],
    );
  }

  private async runScheduled(row: Claimed): Promise<void> {
    let result: ProbeResult | null = null;
    try {
      const tenant = await this.broker.registry.getById(row.tenant_id);
      // The claimed connection may be any class's key: the probe judges (and locks) that class.
      if (tenant) result = await probeTenantKey(this.broker, tenant, { connectionId: row.key_connection_id });
    } catch (e) {
      // A failure outside the KMS call (database) is retried at the next interval.
      this.broker.backgroundErrors.report("prober.probe", e);
    } finally {
      if (result) this.counters.count(result, "schedule");
      // An unreleased lease expires by itself (lease_until), so the key is probed again later.
      await this.release(row, result).catch((e: unknown) => this.broker.backgroundErrors.report("prober.release", e));
    }
  }

  /** Ends the lease; an unavailable answer pushes the next probe out (exponential backoff with jitter, Retry-After honoured). */
  private async release(row: Claimed, result: ProbeResult | null): Promise<void> {
    // A vendor-side fault says nothing about the key: hand it back due now, for a healthy instance.
    if (result?.vendorFault) {
      await this.broker.db.query(`UPDATE key_probe SET leased_by = NULL, lease_until = NULL, next_probe_at = now() WHERE key_connection_id = $1 AND leased_by = $2`, [
        row.key_connection_id,
        this.broker.instanceId,
      ]);
      return;
    }
    const failed = result?.outcome === "unavailable";
    let delayMs = 0;
    if (failed) {
      const base = row.kms_locked ? this.lockedIntervalMs : this.intervalMs;
      const backoff = base * Math.min(2 ** (row.consecutive_failures + 1), MAX_BACKOFF_INTERVALS) * (1 - this.jitter * Math.random());
      delayMs = Math.max(backoff, (result?.retryAfterSeconds ?? 0) * 1000);
    }
    await this.broker.db.query(
      `UPDATE key_probe
          SET leased_by = NULL, lease_until = NULL,
              consecutive_failures = CASE WHEN $3 THEN consecutive_failures + 1 ELSE 0 END,
              next_probe_at = CASE WHEN $3 THEN GREATEST(next_probe_at, now() + make_interval(secs => $4::float8 / 1000)) ELSE next_probe_at END
        WHERE key_connection_id = $1 AND leased_by = $2`,
      [row.key_connection_id, this.broker.instanceId, failed, delayMs],
    );
  }

  /**
   * Probes a key of the tenant now, outside the schedule (push events, drills, tests): the default
   * class's primary, or `opts.connectionId`. Concurrent calls for one key share the running probe
   * plus at most one probe started after it, so an event that arrives mid-probe is still acted
   * on, and a burst of events costs two calls.
   */
  probeNow(tenantId: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
    const slot = `${tenantId}:${opts.connectionId ?? ""}`;
    const current = this.onDemand.get(slot);
    if (current) {
      // The running probe's failure belongs to its own callers; the trailing probe runs regardless.
      current.trailing ??= current.running.catch(() => null).then(() => this.runOnDemand(tenantId, opts));
      return current.trailing;
    }
    const entry: { running: Promise<ProbeResult>; trailing: Promise<ProbeResult> | null } = { running: null as never, trailing: null };
    entry.running = this.runOnDemand(tenantId, opts).finally(() => {
      if (entry.trailing) {
        const next = { running: entry.trailing, trailing: null };
        this.onDemand.set(slot, next);
        void entry.trailing.finally(() => {
          if (this.onDemand.get(slot) === next) this.onDemand.delete(slot);
        });
      } else if (this.onDemand.get(slot) === entry) {
        this.onDemand.delete(slot);
      }
    });
    this.onDemand.set(slot, entry);
    return entry.running;
  }

  private async runOnDemand(tenantId: string, opts: ProbeOptions): Promise<ProbeResult> {
    const tenant = await this.broker.registry.getById(tenantId);
    if (!tenant) return { tenantId, outcome: "skipped", latencyMs: 0, reason: "no such tenant" };
    const result = await probeTenantKey(this.broker, tenant, opts);
    this.counters.onDemand++;
    this.counters.count(result, "on_demand");
    // This probe counts for the interval: the scheduled one need not follow right behind it.
    const probed = probeTarget(tenant, opts.connectionId)?.key;
    if (probed && result.outcome !== "unavailable") {
      const next = result.outcome === "revoked" ? this.lockedIntervalMs : this.intervalMs;
      await this.broker.db
        .query(`UPDATE key_probe SET next_probe_at = GREATEST(next_probe_at, now() + make_interval(secs => $2::float8 / 1000)) WHERE key_connection_id = $1`, [
          probed.connectionId,
          next * (1 - this.jitter * Math.random()),
        ])
        .catch((e: unknown) => this.broker.backgroundErrors.report("prober.reschedule", e));
    }
    return result;
  }

  stats(): ProberStats {
    return this.counters.stats(this.running, this.inFlight.size);
  }
}
