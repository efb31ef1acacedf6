// POST /api/v1/tenants/{slug}/classes/{dataClass}/failover-drill {seconds}: proves the class's
// secondary key can take over, without black-holing anything real (issue 12). For `seconds`, every
// instance unwraps the class's cache misses through the secondary first (bus event
// failover_drill; the primary stays their fallback, so a broken secondary fails no request), and
// this instance unwraps a sample of the class's DEKs (at most 20) through the secondary itself.
// The report counts the sample plus this instance's forced unwraps during the window.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { isKmsError } from "../../kms/types";
import type { BrokerContext } from "../context";
import { dekContext } from "../data-keys";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import { assertNotShredded } from "../views";
import { requireClass } from "./connect-secondary-key";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZFailoverDrillRequest, ZFailoverDrillResponse } from "../../contracts/classes";

const SAMPLE = 20;

type Deps = Pick<BrokerContext, "audit" | "db" | "kms" | "registry" | "bus" | "cache" | "failover">;

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : null);
const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

export async function runFailoverDrill({ ctx, actor, tenant: slug, requestId, dataClass, seconds }: TenantOperation<Deps> & { dataClass: string; seconds: number }) {
  authorize(actor, "class.failover_drill", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const cls = requireClass(tenant, dataClass);
  const secondary = cls.scope.secondary;
  if (!secondary) throw new BrokerError("tenant_not_ready", `data class '${cls.name}' has no secondary key; connect one first`, { dataClass: cls.name });
  if (cls.scope.state !== "active") throw new BrokerError("conflict", `data class '${cls.name}' is ${cls.scope.state}; a failover drill runs on an active class only`, { dataClass: cls.name });
  const who = actorOf(actor);
  const startedAt = new Date();
  const until = startedAt.getTime() + seconds * 1000;
  ctx.failover.force(tenant.id, cls.id, until);
  await ctx.bus.publish({ type: "failover_drill", tenantId: tenant.id, classId: cls.id, until });

  // The drill's own check: a sample of the class's DEKs, unwrapped through the secondary alone.
  const key = { provider: secondary.provider, keyRef: secondary.keyRef };
  const sample = await ctx.db.query<{ dek_id: string; wrapped_key: Buffer | Uint8Array }>(
    `SELECT w.dek_id, w.wrapped_key FROM data_key_wrap w JOIN data_key d ON d.id = w.dek_id AND d.tenant_id = w.tenant_id
      WHERE w.tenant_id = $1 AND w.key_connection_id = $2 ORDER BY d.created_at DESC LIMIT $3`,
    [tenant.id, secondary.connectionId, SAMPLE],
  );
  const own = { attempted: 0, succeeded: 0, failed: 0, latencies: [] as number[], errors: new Map<string, number>() };
  for (const row of sample) {
    own.attempted++;
    const t = performance.now();
    try {
      const m = await ctx.kms.unwrapDataKey(key, Buffer.from(row.wrapped_key), dekContext(tenant.id, row.dek_id), {
        tenantId: tenant.id,
        actor: who,
        requestId,
        dekId: row.dek_id,
        keyRole: "secondary",
        failover: "drill",
      });
      m.destroy();
      own.succeeded++;
      ctx.failover.recordFailover(tenant.id, cls.id, secondary.provider);
    } catch (e) {
      own.failed++;
      const code = isKmsError(e) ? e.kind : "error";
      own.errors.set(code, (own.errors.get(code) ?? 0) + 1);
    }
    own.latencies.push(performance.now() - t);
  }
  // Requests keep flowing through the secondary on every instance until the window ends.
  const left = until - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  const forced = ctx.failover.endForced(tenant.id, cls.id);
  const endedAt = new Date();
  const latencies = [...own.latencies, ...(forced?.latenciesMs ?? [])].sort((a, b) => a - b);
  const errors = new Map(own.errors);
  for (const [code, n] of forced?.errors ?? []) errors.set(code, (errors.get(code) ?? 0) + n);
  const unwraps = {
    attempted: own.attempted + (forced?.attempted ?? 0),
    succeeded: own.succeeded + (forced?.succeeded ?? 0),
    failed: own.failed + (forced?.failed ?? 0),
  };
  const report = {
    dataClass: cls.name,
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    secondary: { provider: secondary.provider, keyId: secondary.keyRef },
    unwraps,
    latencyMs: { p50: round(percentile(latencies, 0.5)), max: round(latencies.length ? latencies[latencies.length - 1]! : null) },
    ok: unwraps.failed === 0,
    errors: [...errors].map(([code, count]) => ({ code, count })),
  };
  await ctx.audit.record({
    tenantId: tenant.id,
    actor: who,
    action: "failover.drill",
    outcome: report.ok ? "success" : "error",
    provider: secondary.provider,
    keyRef: secondary.keyRef,
    requestId,
    detail: { dataClass: cls.name, seconds, ...unwraps, p50Ms: report.latencyMs.p50 },
  });
  return report;
}
