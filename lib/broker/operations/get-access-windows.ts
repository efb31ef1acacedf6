// GET /api/v1/tenants/{slug}/tokens/{tokenId}/access-windows: when the token may be used.
import { authorize } from "../../auth/authorize";
import type { WeeklyWindow } from "../governance/access-windows";
import type { BrokerContext } from "../context";
import { requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAccessWindows, ZTokenParams } from "../../contracts/governance";

export async function getAccessWindows({ ctx, actor, tenant: slug, tokenId }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { tokenId: string }) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  await requireTenantToken(ctx, tenant.id, tokenId);
  const [row, settings] = await Promise.all([
    ctx.db.prisma.tokenPolicy.findFirst({ where: { tenantId: tenant.id, tokenId } }),
    ctx.db.prisma.tenantGovernance.findUnique({ where: { tenantId: tenant.id } }),
  ]);
  return { tokenId, timeZone: settings?.timeZone ?? "UTC", weekly: Array.isArray(row?.weeklyWindows) ? (row.weeklyWindows as unknown as WeeklyWindow[]) : null };
}
