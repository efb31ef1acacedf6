// GET /api/v1/tenants/{slug}/maintenance-windows: the tenant's one-off windows, latest first.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZMaintenanceWindowList } from "../../contracts/governance";

export async function listMaintenanceWindows({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">>) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  const rows = await ctx.db.prisma.maintenanceWindow.findMany({ where: { tenantId: tenant.id }, orderBy: { endsAt: "desc" }, take: 200 });
  return { windows: rows.map((w) => ({ id: w.id, tokenId: w.tokenId, startsAt: w.startsAt.toISOString(), endsAt: w.endsAt.toISOString(), note: w.note, createdAt: w.createdAt.toISOString() })) };
}
