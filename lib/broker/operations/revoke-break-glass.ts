// DELETE /api/v1/tenants/{slug}/break-glass/{id}: ends a break-glass exception early (narrows
// access: the admin role is enough, as for token revocation, and no approval is needed).
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import { breakGlassView, publishBreakGlass } from "./list-break-glass";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZBreakGlassGrant, ZIdParams } from "../../contracts/governance";

export async function revokeBreakGlass({
  ctx,
  actor,
  tenant: slug,
  requestId,
  id,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & { id: string }) {
  authorize(actor, "governance.break_glass_revoke", slug);
  const tenant = await requireTenant(ctx, slug);
  const now = ctx.clock();
  const r = await ctx.db.prisma.breakGlassGrant.updateMany({ where: { id, tenantId: tenant.id, revokedAt: null }, data: { revokedAt: new Date(now) } });
  const g = await ctx.db.prisma.breakGlassGrant.findFirst({ where: { id, tenantId: tenant.id } });
  if (!g) throw new BrokerError("not_found", `no break-glass grant ${id}`);
  if (r.count > 0) await publishBreakGlass(ctx, tenant.id, actorOf(actor), requestId, g, "revoked");
  return breakGlassView(g, now);
}
