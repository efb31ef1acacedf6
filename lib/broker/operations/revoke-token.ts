// DELETE /api/v1/tenants/{slug}/tokens/{id}: revokes a service token on every instance.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";

export async function revokeToken({ ctx, actor, tenant: slug, requestId, tokenId }: TenantOperation<Pick<BrokerContext, "tokens" | "audit" | "bus" | "registry" | "cache">> & { tokenId: string }): Promise<void> {
  authorize(actor, "token.revoke", slug);
  const tenant = await requireTenant(ctx, slug);
  const ok = await ctx.tokens.revoke(tenant.id, tokenId);
  if (!ok) throw new BrokerError("not_found", "no such active token for this tenant");
  ctx.tokens.invalidateTenant(tenant.id);
  await ctx.bus.publish({ type: "tokens_changed", tenantId: tenant.id });
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "token.revoke", outcome: "success", requestId, detail: { tokenId } });
}
