// Learns each tenant's and each token's normal use and reports what is unusual (issue 13, item 5).
// Counting is synchronous and O(1) per data request (observe); once a minute has passed on the
// injected clock, evaluate() closes it: per token and per tenant it compares the minute's
// requests and refusals with an exponentially weighted per-minute baseline (never below the
// tenant's floor), notes first uses of a token or a purpose, and use in an hour of the day the
// tenant has (almost) never used. Anomalies go to the AlertStore, which keeps one open episode
// per (tenant, kind, subject) across the cluster and resolves it once no instance has seen the
// anomaly for resolveMinutes. Each instance learns from the traffic it serves: behind a load
// balancer that spreads evenly, the ratios are the same. Baselines live in memory: after a
// restart an instance learns again (no alert during learningMinutes).
import type { TAlertThresholds } from "../../contracts/governance";
import type { Clock } from "../clock";
import { localTime } from "./access-windows";
import type { AlertKind, Anomaly } from "./alert-store";

const MINUTE = 60_000;
/** Weight of the newest minute in the baseline (about a 20-minute memory). */
const ALPHA = 0.1;
/** Minutes closed at once after a long gap; older ones only decay the baseline. */
const MAX_CATCH_UP = 7 * 1440;
/** Off-hours detection needs this much history, and flags hours with less than this share of use. */
const OFF_HOURS_LEARNING_MINUTES = 7 * 1440;
const OFF_HOURS_SHARE = 0.01;

interface Series {
  requests: number;
  refusals: number;
  rateBaseline: number;
  refusalBaseline: number;
}

interface TenantUsage {
  firstMinute: number;
  lastClosed: number;
  perMinute: Map<number, { tenant: Series; tokens: Map<string, Series> }>;
  rate: { tenant: number; refusals: number; tokens: Map<string, { rate: number; refusals: number }> };
  /** First minute each token and purpose was seen. */
  seenTokens: Map<string, number>;
  seenPurposes: Map<string, number>;
  hours: number[];
  hoursTotal: number;
}

export interface UsageSource {
  thresholds(tenantId: string): Promise<{ thresholds: TAlertThresholds; timeZone: string }>;
}

export interface AnomalySink {
  see(anomalies: Anomaly[]): Promise<void>;
  resolveQuiet(tenantId: string, before: Date, at: Date): Promise<void>;
}

const blank = (): Series => ({ requests: 0, refusals: 0, rateBaseline: 0, refusalBaseline: 0 });

export class UsageMonitor {
  private tenants = new Map<string, TenantUsage>();
  /** Evaluations run one after another; each reads the clock when it starts. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    private readonly source: UsageSource,
    private readonly sink: AnomalySink,
  ) {}

  /** One data request (or batch item) of a token, refused or not. */
  observe(tenantId: string, tokenId: string | undefined, purpose: string | undefined, refused: boolean): void {
    const minute = Math.floor(this.clock() / MINUTE);
    let t = this.tenants.get(tenantId);
    if (!t) {
      t = {
        firstMinute: minute,
        lastClosed: minute - 1,
        perMinute: new Map(),
        rate: { tenant: 0, refusals: 0, tokens: new Map() },
        seenTokens: new Map(),
        seenPurposes: new Map(),
        hours: new Array<number>(24).fill(0),
        hoursTotal: 0,
      };
      this.tenants.set(tenantId, t);
    }
    // A request stamped in an already closed minute (a clock moved back) counts in the next open one.
    const at = Math.max(minute, t.lastClosed + 1);
    let m = t.perMinute.get(at);
    if (!m) t.perMinute.set(at, (m = { tenant: blank(), tokens: new Map() }));
    m.tenant.requests++;
    if (refused) m.tenant.refusals++;
    if (tokenId) {
      let s = m.tokens.get(tokenId);
      if (!s) m.tokens.set(tokenId, (s = blank()));
      s.requests++;
      if (refused) s.refusals++;
      if (!t.seenTokens.has(tokenId)) t.seenTokens.set(tokenId, at);
    }
    if (purpose && !t.seenPurposes.has(purpose)) t.seenPurposes.set(purpose, at);
  }

  /** Closes every whole minute before the clock's, after any evaluation already running. */
  evaluate(): Promise<void> {
    const run = this.queue.then(() => this.closeMinutes());
    // A failed evaluation is reported to the caller; the next one starts regardless.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async closeMinutes(): Promise<void> {
    const upTo = Math.floor(this.clock() / MINUTE) - 1;
    for (const [tenantId, t] of this.tenants) {
      if (t.lastClosed >= upTo) continue;
      const { thresholds, timeZone } = await this.source.thresholds(tenantId);
      const anomalies: Anomaly[] = [];
      if (upTo - t.lastClosed > MAX_CATCH_UP) this.skipIdle(t, upTo - MAX_CATCH_UP);
      for (let m = t.lastClosed + 1; m <= upTo; m++) anomalies.push(...this.closeMinute(tenantId, t, m, thresholds, timeZone));
      t.lastClosed = upTo;
      if (anomalies.length) await this.sink.see(anomalies);
      await this.sink.resolveQuiet(tenantId, new Date((upTo + 1 - thresholds.resolveMinutes) * MINUTE), new Date((upTo + 1) * MINUTE));
    }
  }

  /** Decays the baselines over idle minutes in one step (the traffic of those minutes was zero). */
  private skipIdle(t: TenantUsage, to: number): void {
    const keep = Math.pow(1 - ALPHA, to - t.lastClosed);
    t.rate.tenant *= keep;
    t.rate.refusals *= keep;
    for (const r of t.rate.tokens.values()) {
      r.rate *= keep;
      r.refusals *= keep;
    }
    for (const m of t.perMinute.keys()) if (m <= to) t.perMinute.delete(m);
    t.lastClosed = to;
  }

  private closeMinute(tenantId: string, t: TenantUsage, m: number, th: TAlertThresholds, timeZone: string): Anomaly[] {
    const counts = t.perMinute.get(m);
    t.perMinute.delete(m);
    const learned = m - t.firstMinute >= th.learningMinutes;
    const minute = new Date(m * MINUTE);
    const out: Anomaly[] = [];
    const spike = (kind: AlertKind, subject: string, observed: number, baseline: number, multiple: number, floor: number): boolean => {
      const base = Math.max(baseline, floor);
      const threshold = base * multiple;
      if (!learned || observed <= threshold) return false;
      out.push({ tenantId, kind, subject, at: minute, detail: { observed, baseline: round(base), threshold: round(threshold), minute: minute.toISOString() } });
      return true;
    };
    // Tokens first: a spike one token explains is that token's episode, not also the tenant's.
    let tokenRate = false;
    let tokenRefusals = false;
    for (const tokenId of new Set([...t.rate.tokens.keys(), ...(counts?.tokens.keys() ?? [])])) {
      const s = counts?.tokens.get(tokenId) ?? blank();
      let r = t.rate.tokens.get(tokenId);
      if (!r) t.rate.tokens.set(tokenId, (r = { rate: 0, refusals: 0 }));
      const rateSpike = spike("rate_spike", `token:${tokenId}`, s.requests, r.rate, th.rateMultiple, th.rateFloor);
      const refusalSpike = spike("refusal_spike", `token:${tokenId}`, s.refusals, r.refusals, th.refusalMultiple, th.refusalFloor);
      // An anomalous minute does not teach the baseline: a long burst stays a burst.
      if (!rateSpike) r.rate += ALPHA * (s.requests - r.rate);
      if (!refusalSpike) r.refusals += ALPHA * (s.refusals - r.refusals);
      tokenRate ||= rateSpike;
      tokenRefusals ||= refusalSpike;
    }
    const total = counts?.tenant ?? blank();
    const tenantRate = !tokenRate && spike("rate_spike", "tenant", total.requests, t.rate.tenant, th.rateMultiple, th.rateFloor);
    const tenantRefusals = !tokenRefusals && spike("refusal_spike", "tenant", total.refusals, t.rate.refusals, th.refusalMultiple, th.refusalFloor);
    if (!tenantRate && !tokenRate) t.rate.tenant += ALPHA * (total.requests - t.rate.tenant);
    if (!tenantRefusals && !tokenRefusals) t.rate.refusals += ALPHA * (total.refusals - t.rate.refusals);
    if (learned) {
      if (th.newToken) for (const [id, first] of t.seenTokens) if (first === m) out.push(firstUse(tenantId, "new_token", `token:${id}`, minute));
      if (th.newPurpose) for (const [p, first] of t.seenPurposes) if (first === m) out.push(firstUse(tenantId, "new_purpose", `purpose:${p}`, minute));
    }
    if (total.requests > 0) {
      const hour = Math.floor(localTime(minute, timeZone).minute / 60);
      const share = t.hoursTotal ? (t.hours[hour] ?? 0) / t.hoursTotal : 1;
      if (th.offHours && m - t.firstMinute >= OFF_HOURS_LEARNING_MINUTES && share < OFF_HOURS_SHARE) {
        out.push({
          tenantId,
          kind: "off_hours",
          subject: "tenant",
          at: minute,
          detail: { observed: total.requests, baseline: round(share), threshold: OFF_HOURS_SHARE, minute: minute.toISOString() },
        });
      }
      t.hours[hour] = (t.hours[hour] ?? 0) + total.requests;
      t.hoursTotal += total.requests;
    }
    return out;
  }
}

function firstUse(tenantId: string, kind: AlertKind, subject: string, minute: Date): Anomaly {
  return { tenantId, kind, subject, at: minute, detail: { observed: 1, baseline: 0, threshold: 0, minute: minute.toISOString() } };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
