// POST /api/v1/tenants/{slug}/tokens: a service token, returned once and stored hashed.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { approvalGate } from "../governance/approval-gate";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZCreateTokenRequest, ZCreateTokenResponse } from "../../contracts/requests";

export async function createToken({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  name,
}: TenantOperation<Pick<BrokerContext, "tokens" | "audit" | "bus" | "registry" | "cache" | "db" | "clock">> & { name: string }) {
  authorize(actor, "token.create", slug);
  const tenant = await requireTenant(ctx, slug);
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "token.create", params: { name } });
  const created = await ctx.tokens.create(tenant.id, name);
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "token.create", outcome: "success", requestId, detail: { tokenId: created.id, name, prefix: created.prefix } });
  return { id: created.id, token: created.token, name, prefix: created.prefix, createdAt: created.createdAt.toISOString() };
}
