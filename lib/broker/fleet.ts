// Read models for the console: the vendor's fleet table and one tenant's key health.
// The fleet is filtered, sorted and paginated in SQL so it stays fast with 10,000 tenants;
// locked and unreachable tenants always sort first, because they are what an operator must see.
// Latency percentiles and error counts are this instance's in-memory view (key-health.ts),
// attached to the rows of the requested page only.
import { z } from "zod";
import { ZKmsProviderName } from "../contracts/providers";
import { fillMinutes } from "../audit/aggregate";
import type { BrokerContext } from "./context";
import { describeLock, type LockTransitionRow } from "./data-class-view";
import type { KeyHealthSnapshot } from "./key-health";
import type { TenantView } from "./tenant-registry";
import { describeKey, describeLastLock, describeTenant } from "./views";
import { ZSafeString } from "../validation/safe-text";
import { recentVendorAlarms } from "./vendor-faults";

export const FLEET_HEALTH = ["locked", "unreachable", "pending", "ok"] as const;
export type FleetHealth = (typeof FLEET_HEALTH)[number];

export const FLEET_SORTS = ["priority", "slug", "name", "state", "provider", "lastProbe", "probeLatency", "since"] as const;

export const ZFleetQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(25),
  sort: z.enum(FLEET_SORTS).default("priority"),
  dir: z.enum(["asc", "desc"]).default("asc"),
  state: z.enum(["pending", "active", "locked"]).optional(),
  provider: ZKmsProviderName.optional(),
  health: z.enum(FLEET_HEALTH).optional(),
  q: ZSafeString.trim().max(100).optional(),
});
export type TFleetQuery = z.infer<typeof ZFleetQuery>;

// Only these expressions ever reach ORDER BY; the query parameter selects among them.
const SORT_SQL: Record<(typeof FLEET_SORTS)[number], string> = {
  priority: "t.slug",
  slug: "t.slug",
  name: "lower(t.name)",
  state: "t.state::text",
  provider: "kc.provider::text",
  lastProbe: "kc.last_probe_at",
  probeLatency: "kc.last_probe_latency_ms",
  since: "t.state_since",
};

const HEALTH_SQL = `CASE
    WHEN t.state = 'locked' THEN 'locked'
    WHEN kc.id IS NULL OR t.state = 'pending' THEN 'pending'
    WHEN kc.last_probe_outcome = 'unavailable' THEN 'unreachable'
    ELSE 'ok' END`;
const PRIORITY_SQL = `CASE
    WHEN t.state = 'locked' THEN 0
    WHEN kc.id IS NOT NULL AND t.state <> 'pending' AND kc.last_probe_outcome = 'unavailable' THEN 1
    WHEN kc.id IS NULL OR t.state = 'pending' THEN 2
    ELSE 3 END`;
// The tenant's own key: its default class's primary (one row per tenant, whatever its other classes have).
const FROM_SQL = `FROM tenant t LEFT JOIN key_connection kc ON kc.tenant_id = t.id AND kc.status = 'connected' AND kc.role = 'primary' AND kc.data_class_id IS NULL`;

interface FleetRow extends Record<string, unknown> {
  id: string;
  slug: string;
  name: string;
  state: "pending" | "active" | "locked";
  state_since: Date;
  lock_reason: string | null;
  lock_source: string | null;
  provider: "aws" | "azure" | "gcp" | "kmip" | "pkcs11" | null;
  key_ref: string | null;
  last_probe_at: Date | null;
  last_probe_outcome: string | null;
  last_probe_latency_ms: number | null;
  last_error: string | null;
  health: FleetHealth;
}

/** The fleet views read the database and this instance's key-health tracker, nothing else. */
export type FleetDeps = Pick<BrokerContext, "db" | "health">;

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

export async function listFleet(broker: FleetDeps, query: TFleetQuery) {
  const where: string[] = [];
  const params: unknown[] = [];
  const bind = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (query.state) where.push(`t.state = ${bind(query.state)}::"TenantState"`);
  if (query.provider) where.push(`kc.provider = ${bind(query.provider)}::"KmsProviderName"`);
  if (query.health) where.push(`(${HEALTH_SQL}) = ${bind(query.health)}`);
  if (query.q) {
    const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const p = bind(like);
    where.push(`(t.slug ILIKE ${p} OR t.name ILIKE ${p} OR kc.key_ref ILIKE ${p})`);
  }
  const whereSql = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const dir = query.dir === "desc" ? "DESC" : "ASC";
  const order = `${PRIORITY_SQL}, ${SORT_SQL[query.sort]} ${dir} NULLS LAST, t.id`;
  const offset = (query.page - 1) * query.pageSize;

  const [rows, totals, summary, vendorAlarms] = await Promise.all([
    broker.db.query<FleetRow>(
      `SELECT t.id, t.slug, t.name, t.state::text AS state, t.state_since, t.lock_reason, t.lock_source,
              kc.provider::text AS provider, kc.key_ref, kc.last_probe_at, kc.last_probe_outcome, kc.last_probe_latency_ms, kc.last_error,
              ${HEALTH_SQL} AS health
         ${FROM_SQL} ${whereSql}
        ORDER BY ${order}
        LIMIT ${bind(query.pageSize)} OFFSET ${bind(offset)}`,
      params,
    ),
    broker.db.query<{ n: string | number }>(`SELECT count(*) AS n ${FROM_SQL} ${whereSql}`, params.slice(0, params.length - 2)),
    broker.db.query<{ health: FleetHealth; n: string | number }>(`SELECT ${HEALTH_SQL} AS health, count(*) AS n ${FROM_SQL} GROUP BY 1`),
    // The vendor's own credential faults, raised by any instance: a problem for vendor ops, not for any tenant.
    recentVendorAlarms(broker.db),
  ]);

  const cacheRatios = await cacheHitRatios(broker, rows.map((r) => r.id));
  const total = Number(totals[0]?.n ?? 0);
  return {
    tenants: rows.map((r) => {
      const h = broker.health.snapshot(r.id);
      // This instance may have seen the KMS fail more recently than the last probe recorded.
      const health: FleetHealth = r.health === "ok" && h.status === "kms_unreachable" ? "unreachable" : r.health;
      return {
        id: r.id,
        slug: r.slug,
        name: r.name,
        state: r.state,
        since: iso(r.state_since)!,
        lockReason: r.lock_reason,
        lockSource: r.lock_source,
        provider: r.provider,
        keyId: r.key_ref,
        health,
        lastProbeAt: iso(r.last_probe_at),
        lastProbeOutcome: r.last_probe_outcome,
        lastProbeLatencyMs: r.last_probe_latency_ms,
        lastError: r.last_error,
        latencyMsP50: h.latencyMsP50,
        latencyMsP99: h.latencyMsP99,
        errorRate: h.kmsCalls ? h.kmsErrors / h.kmsCalls : null,
        lastSuccessAt: h.lastSuccessAt,
        cacheHitRatio: cacheRatios.get(r.id) ?? null,
      };
    }),
    page: query.page,
    pageSize: query.pageSize,
    total,
    pages: Math.max(1, Math.ceil(total / query.pageSize)),
    summary: Object.fromEntries(FLEET_HEALTH.map((k) => [k, Number(summary.find((s) => s.health === k)?.n ?? 0)])) as Record<FleetHealth, number>,
    vendorAlarms,
  };
}

/** Share of data-path requests served from the DEK cache over the last hour, from the audit log. */
async function cacheHitRatios(broker: Pick<FleetDeps, "db">, tenantIds: string[]): Promise<Map<string, number>> {
  if (tenantIds.length === 0) return new Map();
  const rows = await broker.db.query<{ tenant_id: string; hits: string | number; total: string | number }>(
    `SELECT tenant_id, count(*) FILTER (WHERE cache_hit) AS hits, count(*) AS total
       FROM audit_event
      WHERE tenant_id = ANY($1::uuid[]) AND cache_hit IS NOT NULL AND time > now() - interval '1 hour'
      GROUP BY tenant_id`,
    [tenantIds],
  );
  return new Map(rows.filter((r) => Number(r.total) > 0).map((r) => [r.tenant_id, Number(r.hits) / Number(r.total)]));
}

/** Everything the key-health page shows about one tenant. Read-only, so vendor operators may see it too. */
export async function tenantHealth(broker: FleetDeps, view: TenantView) {
  const tenant = describeTenant(view);
  const key = describeKey(view);
  const status = { health: broker.health.snapshot(view.id), lastLock: await describeLastLock(broker.db, view.id) };
  const [conn] = await broker.db.query<{
    last_probe_at: Date | null;
    last_probe_outcome: string | null;
    last_probe_latency_ms: number | null;
    last_error: string | null;
  }>(
    `SELECT last_probe_at, last_probe_outcome, last_probe_latency_ms, last_error FROM key_connection WHERE tenant_id = $1 AND status = 'connected' AND data_class_id IS NULL AND role = 'primary' ORDER BY created_at DESC LIMIT 1`,
    [tenant.id],
  );
  const [deks] = await broker.db.query<{ active: string | number; total: string | number }>(
    `SELECT count(*) FILTER (WHERE retired_at IS NULL) AS active, count(*) AS total FROM data_key WHERE tenant_id = $1`,
    [tenant.id],
  );
  const locks = await broker.db.query<LockTransitionRow>(
    `SELECT id::text, cause, reason, revoked_at, detected_at, effective_at, fanout_ms FROM tenant_transition
      WHERE tenant_id = $1 AND to_state = 'locked' AND data_class IS NULL ORDER BY id DESC LIMIT 10`,
    [tenant.id],
  );
  const latency = await broker.db.query<{ minute: Date; p50: number | null; max: number | null; calls: string | number; errors: string | number }>(
    `SELECT date_trunc('minute', time) AS minute,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, max(latency_ms) AS max,
            count(*) AS calls, count(*) FILTER (WHERE outcome <> 'success') AS errors
       FROM audit_event
      WHERE tenant_id = $1 AND action LIKE 'kms.%' AND time > now() - interval '1 hour'
      GROUP BY 1 ORDER BY 1`,
    [tenant.id],
  );
  const [lastAudit] = await broker.db.query<{ seq: string | number; time: Date }>(
    `SELECT seq, time FROM audit_event WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`,
    [tenant.id],
  );
  const ratios = await cacheHitRatios(broker, [tenant.id]);
  const h: KeyHealthSnapshot | undefined = status.health;
  const health: FleetHealth =
    tenant.state === "locked" ? "locked" : !key || tenant.state === "pending" ? "pending" : conn?.last_probe_outcome === "unavailable" || h?.status === "kms_unreachable" ? "unreachable" : "ok";
  return {
    tenant,
    key,
    health,
    kms: h ?? null,
    probe: conn
      ? { lastProbeAt: iso(conn.last_probe_at), outcome: conn.last_probe_outcome, latencyMs: conn.last_probe_latency_ms, lastError: conn.last_error }
      : null,
    deks: { active: Number(deks?.active ?? 0), total: Number(deks?.total ?? 0) },
    cacheHitRatio: ratios.get(tenant.id) ?? null,
    lastLock: status.lastLock ?? null,
    locks: locks.map(describeLock),
    latency: latency.map((r) => ({ minute: iso(r.minute)!, p50: r.p50 === null ? null : Number(r.p50), max: r.max === null ? null : Number(r.max), calls: Number(r.calls), errors: Number(r.errors) })),
    audit: { events: Number(lastAudit?.seq ?? 0), lastAt: iso(lastAudit?.time) },
  };
}

/**
 * Fleet-wide KMS calls and errors per minute over the last `minutes` minutes, from the audit
 * log's kms.* entries (every instance's calls, unlike the in-memory counters of /api/metrics).
 * Deliberately cross-tenant, so it lives here with the other vendor read models, not in lib/audit.
 */
export async function fleetKmsActivity(broker: Pick<FleetDeps, "db">, opts: { minutes?: number; now?: Date } = {}) {
  const minutes = Math.max(1, Math.min(24 * 60, Math.trunc(opts.minutes ?? 60)));
  const to = opts.now ?? new Date();
  const from = new Date(Math.floor((to.getTime() - (minutes - 1) * 60_000) / 60_000) * 60_000);
  const rows = await broker.db.query<{ minute: Date; key: string; n: string | number }>(
    `SELECT date_trunc('minute', time) AS minute,
            CASE WHEN outcome = 'success' THEN 'calls_ok' ELSE 'errors' END AS key, count(*) AS n
       FROM audit_event
      WHERE action LIKE 'kms.%' AND time >= $1
      GROUP BY 1, 2`,
    [from.toISOString()],
  );
  const filled = fillMinutes(rows, from, to);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    minutes: filled.minutes.map((b) => ({ minute: b.minute, calls: b.total, errors: b.outcomes.errors ?? 0 })),
    calls: Object.values(filled.totals).reduce((a, n) => a + n, 0),
    errors: filled.totals.errors ?? 0,
  };
}
