// GET /api/v1/tenants/{slug}/tokens: the tenant's service tokens (never the tokens themselves).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTokenList } from "../../contracts/requests";

export async function listTokens({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "tokens" | "bus" | "registry" | "cache">>) {
  authorize(actor, "token.list", slug);
  const tenant = await requireTenant(ctx, slug);
  const tokens = (await ctx.tokens.list(tenant.id)).map((t) => ({
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    createdAt: t.createdAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  }));
  return { tokens };
}
