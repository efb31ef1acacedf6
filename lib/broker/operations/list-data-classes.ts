// GET /api/v1/tenants/{slug}/classes: every data class of the tenant, `default` first, read fresh.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeDataClasses } from "../data-class-view";
import { loadTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZDataClassList } from "../../contracts/classes";

export async function listDataClasses({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "registry" | "health" | "failover">>) {
  authorize(actor, "class.view", slug);
  const tenant = await loadTenant(ctx, slug);
  return { classes: await describeDataClasses(ctx, tenant) };
}
