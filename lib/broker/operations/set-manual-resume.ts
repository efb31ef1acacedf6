// PUT /api/v1/tenants/{slug}/settings: manualResume keeps a KMS-caused lock until an explicit unlock.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { loadTenant, requireTenant } from "../tenant-lookup";
import { describeKey, describeTenant } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZSettingsRequest, ZTenantResponse } from "../../contracts/requests";

export async function setManualResume({
  ctx,
  actor,
  tenant,
  requestId,
  manualResume,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache">> & { manualResume: boolean }) {
  authorize(actor, "tenant.settings", tenant);
  const t = await requireTenant(ctx, tenant);
  await ctx.db.prisma.tenant.update({ where: { id: t.id }, data: { manualResume } });
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "tenant.settings", outcome: "success", requestId, detail: { manualResume } });
  await ctx.bus.publish({ type: "tenant_changed", tenantId: t.id });
  const fresh = await loadTenant(ctx, tenant);
  return { tenant: describeTenant(fresh), key: describeKey(fresh) };
}
