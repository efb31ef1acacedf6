// POST /api/v1/tenants/{slug}/lock: the kill switch, on every instance, until an explicit unlock.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { describeTenant } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZLockRequest, ZTenantResponse } from "../../contracts/requests";

export async function lockTenant({ ctx, actor, tenant: slug, requestId, reason }: TenantOperation<Pick<BrokerContext, "locks" | "bus" | "registry" | "cache">> & { reason: string }) {
  authorize(actor, "tenant.lock", slug);
  const tenant = await requireTenant(ctx, slug);
  const outcome = await ctx.locks.lock(tenant, { source: "kill_switch", reason: `kill_switch: ${reason}`, actor: actorOf(actor), requestId });
  return { tenant: describeTenant(outcome.tenant), fanout: outcome.fanout };
}
