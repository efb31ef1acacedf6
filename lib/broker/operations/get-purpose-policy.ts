// GET /api/v1/tenants/{slug}/tokens/{tokenId}/purpose-policy: which purposes the token may give.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZPurposePolicy, ZTokenParams } from "../../contracts/governance";

export async function getPurposePolicy({ ctx, actor, tenant: slug, tokenId }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { tokenId: string }) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  await requireTenantToken(ctx, tenant.id, tokenId);
  const row = await ctx.db.prisma.tokenPolicy.findFirst({ where: { tenantId: tenant.id, tokenId } });
  return {
    tokenId,
    allowedPurposes: Array.isArray(row?.allowedPurposes) ? row.allowedPurposes.map(String) : null,
    requirePurpose: row?.requirePurpose ?? false,
    updatedAt: row?.updatedAt.toISOString() ?? null,
  };
}
