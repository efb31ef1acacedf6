// GET /api/v1/tenants/{slug}/purposes: the standard purpose codes and the tenant's own.
import { authorize } from "../../auth/authorize";
import { STANDARD_PURPOSES } from "../../contracts/governance";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZPurposeCatalog } from "../../contracts/governance";

export async function getPurposeCatalog({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">>) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  const custom = await ctx.db.prisma.purposeCode.findMany({ where: { tenantId: tenant.id }, orderBy: { code: "asc" } });
  return {
    standard: Object.entries(STANDARD_PURPOSES).map(([code, description]) => ({ code, description })),
    custom: custom.map((c) => ({ code: c.code, description: c.description, createdAt: c.createdAt.toISOString() })),
  };
}
