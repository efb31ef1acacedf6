// GET /api/v1/tenants/{slug}/audit/purposes: data requests per purpose over the last minutes,
// for the audit dashboard's "accesses by purpose" (counted in SQL over the tenant's log).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditPurposes, ZAuditPurposesQuery } from "../../contracts/governance";

export async function auditPurposes({ ctx, actor, tenant: slug, minutes }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { minutes: number }) {
  authorize(actor, "audit.read", slug);
  const tenant = await requireTenant(ctx, slug);
  const to = new Date();
  const from = new Date(to.getTime() - minutes * 60_000);
  const rows = await ctx.db.query<{ purpose: string | null; total: string; success: string; denied: string }>(
    `SELECT purpose, count(*) AS total, count(*) FILTER (WHERE outcome = 'success') AS success, count(*) FILTER (WHERE outcome = 'denied') AS denied
       FROM audit_event WHERE tenant_id = $1 AND time >= $2 AND action IN ('encrypt', 'decrypt')
      GROUP BY purpose ORDER BY count(*) DESC LIMIT 100`,
    [tenant.id, from],
  );
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    purposes: rows.map((r) => ({ purpose: r.purpose, total: Number(r.total), success: Number(r.success), denied: Number(r.denied) })),
  };
}
