// GET /api/v1/tenants/{slug}/tokens: the tenant's service tokens with their scope (never the tokens themselves).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { scopeOfColumns } from "../service-tokens";
import { requireTenant } from "../tenant-lookup";
import { scopeView } from "../token-scope";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTokenList } from "../../contracts/tokens";

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
    scope: scopeView(scopeOfColumns(t.operations, t.dataClasses)),
  }));
  return { tokens };
}
