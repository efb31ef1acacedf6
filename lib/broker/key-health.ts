// What this instance has seen of each tenant's KMS: last success, last error class and recent
// latencies. "KMS unreachable" is derived from it, and clears by itself on the next success.
// Kept per tenant (all its keys together, as the tenant's status shows it) and per key of the
// tenant (a data class's health is that of its key: lib/broker/data-class-view.ts).
import type { KmsErrorKind } from "../kms/types";

export interface KeyHealthSnapshot {
  status: "ok" | "kms_unreachable" | "unknown";
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastErrorKind: KmsErrorKind | null;
  lastErrorCode: string | null;
  consecutiveFailures: number;
  recentErrors: Array<{ at: string; kind: KmsErrorKind; code: string | null }>;
  latencyMsP50: number | null;
  latencyMsP99: number | null;
  kmsCalls: number;
  kmsErrors: number;
}

interface TenantHealth {
  lastSuccessAt: number | null;
  lastErrorAt: number | null;
  lastErrorKind: KmsErrorKind | null;
  lastErrorCode: string | null;
  consecutiveFailures: number;
  recentErrors: Array<{ at: number; kind: KmsErrorKind; code: string | null }>;
  latencies: number[];
  calls: number;
  errors: number;
}

const LATENCY_WINDOW = 200;

/** A key of a tenant, as the health of one data class is tracked. */
export interface KeyOfTenant {
  provider: string;
  keyRef: string;
}

const keyId = (tenantId: string, key: KeyOfTenant) => `${tenantId} ${key.provider} ${key.keyRef}`;

export class KeyHealthTracker {
  private byTenant = new Map<string, TenantHealth>();
  private byKey = new Map<string, TenantHealth>();

  private get(tenantId: string, map = this.byTenant): TenantHealth {
    let h = map.get(tenantId);
    if (!h) {
      h = { lastSuccessAt: null, lastErrorAt: null, lastErrorKind: null, lastErrorCode: null, consecutiveFailures: 0, recentErrors: [], latencies: [], calls: 0, errors: 0 };
      map.set(tenantId, h);
    }
    return h;
  }

  success(tenantId: string, latencyMs: number, key?: KeyOfTenant): void {
    this.recordSuccess(this.get(tenantId), latencyMs);
    if (key) this.recordSuccess(this.get(keyId(tenantId, key), this.byKey), latencyMs);
  }

  private recordSuccess(h: TenantHealth, latencyMs: number): void {
    h.calls++;
    h.lastSuccessAt = Date.now();
    h.consecutiveFailures = 0;
    h.latencies.push(latencyMs);
    if (h.latencies.length > LATENCY_WINDOW) h.latencies.shift();
  }

  failure(tenantId: string, kind: KmsErrorKind, code: string | null, key?: KeyOfTenant): void {
    this.recordFailure(this.get(tenantId), kind, code);
    if (key) this.recordFailure(this.get(keyId(tenantId, key), this.byKey), kind, code);
  }

  private recordFailure(h: TenantHealth, kind: KmsErrorKind, code: string | null): void {
    h.calls++;
    h.errors++;
    h.lastErrorAt = Date.now();
    h.lastErrorKind = kind;
    h.lastErrorCode = code;
    if (kind === "unavailable") h.consecutiveFailures++;
    h.recentErrors.push({ at: h.lastErrorAt, kind, code });
    if (h.recentErrors.length > 20) h.recentErrors.shift();
  }

  /**
   * Tenants whose KMS this instance last saw unreachable, within `withinMs`. The prober keeps
   * probing them even after their DEKs expired, so "kms_unreachable" clears by itself.
   */
  unreachableTenants(withinMs: number, now = Date.now()): string[] {
    const out: string[] = [];
    for (const [id, h] of this.byTenant) {
      if (h.consecutiveFailures > 0 && h.lastErrorAt !== null && now - h.lastErrorAt < withinMs) out.push(id);
    }
    return out;
  }

  /** This instance's view of one key of the tenant (a data class's key); null before its first call. */
  snapshotKey(tenantId: string, key: KeyOfTenant): KeyHealthSnapshot | null {
    const h = this.byKey.get(keyId(tenantId, key));
    return h ? this.describe(h) : null;
  }

  snapshot(tenantId: string): KeyHealthSnapshot {
    return this.describe(this.byTenant.get(tenantId));
  }

  private describe(h: TenantHealth | undefined): KeyHealthSnapshot {
    if (!h) {
      return { status: "unknown", lastSuccessAt: null, lastErrorAt: null, lastErrorKind: null, lastErrorCode: null, consecutiveFailures: 0, recentErrors: [], latencyMsP50: null, latencyMsP99: null, kmsCalls: 0, kmsErrors: 0 };
    }
    const sorted = [...h.latencies].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : null);
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      status: h.consecutiveFailures > 0 ? "kms_unreachable" : h.lastSuccessAt ? "ok" : "unknown",
      lastSuccessAt: iso(h.lastSuccessAt),
      lastErrorAt: iso(h.lastErrorAt),
      lastErrorKind: h.lastErrorKind,
      lastErrorCode: h.lastErrorCode,
      consecutiveFailures: h.consecutiveFailures,
      recentErrors: h.recentErrors.map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, code: e.code })),
      latencyMsP50: pct(0.5),
      latencyMsP99: pct(0.99),
      kmsCalls: h.calls,
      kmsErrors: h.errors,
    };
  }
}
