// The prober's counters: totals by outcome, KMS calls, and a per-second window for rates
// (tests, /api/metrics and the benchmark read them through Prober.stats()).
import { Counter, type Registry } from "prom-client";
import type { ProbeOutcome, ProbeResult } from "./probe";

export interface ProberStats {
  running: boolean;
  probes: number;
  byOutcome: Record<ProbeOutcome, number>;
  /** KMS calls made by probes (a probe that resumes a tenant also re-validates: 3 calls). */
  kmsCalls: number;
  onDemand: number;
  inFlight: number;
  claims: number;
  activityFlushes: number;
  /** Over the last `windowSeconds` (up to 60). */
  probesPerSecond: number;
  kmsCallsPerSecond: number;
  windowSeconds: number;
}

const OUTCOMES: ProbeOutcome[] = ["success", "revoked", "unavailable", "invalid", "skipped", "resumed"];
const RATE_WINDOW_S = 60;

export class ProbeCounters {
  startedAt = 0;
  probes = 0;
  kmsCalls = 0;
  onDemand = 0;
  claims = 0;
  activityFlushes = 0;
  private byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<ProbeOutcome, number>;
  private buckets = new Map<number, { probes: number; calls: number }>();
  private readonly probesTotal: Counter<"outcome" | "trigger">;

  constructor(registry: Registry) {
    this.probesTotal = new Counter({ name: "cmek_probes_total", help: "Key probes by outcome and trigger (schedule or on_demand)", labelNames: ["outcome", "trigger"], registers: [registry] });
  }

  count(r: ProbeResult, trigger: "schedule" | "on_demand"): void {
    const calls = r.outcome === "skipped" ? 0 : (r.kmsCalls ?? 1);
    this.probes++;
    this.kmsCalls += calls;
    this.byOutcome[r.outcome]++;
    this.probesTotal.inc({ outcome: r.outcome, trigger });
    const sec = Math.floor(Date.now() / 1000);
    const b = this.buckets.get(sec) ?? { probes: 0, calls: 0 };
    b.probes++;
    b.calls += calls;
    this.buckets.set(sec, b);
    for (const k of this.buckets.keys()) if (k <= sec - RATE_WINDOW_S) this.buckets.delete(k);
  }

  stats(running: boolean, inFlight: number): ProberStats {
    const nowS = Date.now() / 1000;
    const window = Math.max(1, Math.min(RATE_WINDOW_S, this.startedAt ? nowS - this.startedAt / 1000 : RATE_WINDOW_S));
    let probes = 0;
    let calls = 0;
    for (const [sec, b] of this.buckets) {
      if (sec > nowS - window - 1) {
        probes += b.probes;
        calls += b.calls;
      }
    }
    return {
      running,
      probes: this.probes,
      byOutcome: { ...this.byOutcome },
      kmsCalls: this.kmsCalls,
      onDemand: this.onDemand,
      inFlight,
      claims: this.claims,
      activityFlushes: this.activityFlushes,
      probesPerSecond: probes / window,
      kmsCallsPerSecond: calls / window,
      windowSeconds: Math.round(window),
    };
  }
}
