// POST /api/v1/tenants: a new tenant, pending until a key is connected.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { describeTenant, type TenantInfo } from "../views";
import type { OperationBase } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZCreateTenantRequest, ZTenantResponse } from "../../contracts/requests";

/** Validated by ZCreateTenantRequest (lib/contracts/requests.ts). */
export interface CreateTenantInput {
  slug: string;
  name: string;
}

export async function createTenant({ ctx, actor, requestId, slug, name }: OperationBase<Pick<BrokerContext, "db" | "audit" | "registry">> & CreateTenantInput): Promise<TenantInfo> {
  authorize(actor, "tenant.create");
  const existing = await ctx.db.prisma.tenant.findUnique({ where: { slug } });
  if (existing) throw new BrokerError("conflict", `tenant "${slug}" already exists`);
  const t = await ctx.db.prisma.tenant.create({ data: { slug, name } });
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "tenant.create", outcome: "success", requestId, detail: { slug: t.slug, name: t.name } });
  const view = await ctx.registry.load({ id: t.id });
  return describeTenant(view!);
}
