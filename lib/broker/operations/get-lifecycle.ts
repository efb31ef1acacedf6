// GET /api/v1/tenants/{slug}/lifecycle: DEKs per key and version, what is safe to disable or
// revoke, and the re-wrap job's progress.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { lifecycleOf } from "../lifecycle/lifecycle-view";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The response schema of this operation's route (lib/contracts).
export { ZLifecycle } from "../../contracts/lifecycle";

export async function getLifecycle({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "lifecycle" | "bus" | "registry" | "cache">>) {
  authorize(actor, "lifecycle.view", slug);
  const tenant = await requireTenant(ctx, slug);
  return lifecycleOf(ctx.db, ctx.lifecycle.store, tenant);
}
