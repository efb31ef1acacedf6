// POST /api/v1/tenants/{slug}/lifecycle/rewrap: starts a job that re-wraps every DEK not under
// the tenant's connected key and its current version (or returns the job already open).
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { lifecycleOf } from "../lifecycle/lifecycle-view";
import { loadTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The response schema of this operation's route (lib/contracts).
export { ZLifecycle } from "../../contracts/lifecycle";

export async function startRewrap({ ctx, actor, tenant: slug, requestId }: TenantOperation<Pick<BrokerContext, "db" | "lifecycle" | "registry">>) {
  authorize(actor, "lifecycle.rewrap", slug);
  const tenant = await loadTenant(ctx, slug);
  if (!tenant.key) throw new BrokerError("tenant_not_ready", "tenant has no connected key; connect one first");
  if (tenant.state === "locked") throw new BrokerError("tenant_locked", "tenant is locked; a re-wrap needs its keys working", { reason: tenant.lockReason });
  await ctx.lifecycle.startJob(tenant.id, "manual", actorOf(actor), requestId);
  return lifecycleOf(ctx.db, ctx.lifecycle.store, tenant);
}
