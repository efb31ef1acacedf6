// GET /api/v1/tenants/{slug}/alerts: the tenant's alerts on unusual key use (open ones by default),
// for the console's banner and history.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAlertList, ZAlertListQuery } from "../../contracts/governance";

type AlertRow = { id: string; tenantId: string; kind: string; subject: string; detail: unknown; raisedAt: Date; lastSeenAt: Date; resolvedAt: Date | null };

export function alertView(a: AlertRow, tenantSlug?: string) {
  return {
    id: a.id,
    tenantId: a.tenantId,
    ...(tenantSlug === undefined ? {} : { tenantSlug }),
    kind: a.kind as "rate_spike",
    subject: a.subject,
    detail: a.detail as { observed: number; baseline: number; threshold: number; minute: string },
    raisedAt: a.raisedAt.toISOString(),
    lastSeenAt: a.lastSeenAt.toISOString(),
    resolvedAt: a.resolvedAt?.toISOString() ?? null,
  };
}

export async function listAlerts({ ctx, actor, tenant: slug, state, limit }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { state: "open" | "all"; limit: number }) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  const rows = await ctx.db.prisma.usageAlert.findMany({ where: { tenantId: tenant.id, ...(state === "open" ? { resolvedAt: null } : {}) }, orderBy: { raisedAt: "desc" }, take: limit });
  return { alerts: rows.map((r) => alertView(r)) };
}
