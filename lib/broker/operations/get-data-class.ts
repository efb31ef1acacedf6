// GET /api/v1/tenants/{slug}/classes/{dataClass}: one data class (404 when the tenant has none by that name).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeDataClass } from "../data-class-view";
import { requireClass } from "../tenant-lock";
import { loadTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZDataClassParams, ZDataClassResponse } from "../../contracts/classes";

export async function getDataClass({ ctx, actor, tenant: slug, dataClass }: TenantOperation<Pick<BrokerContext, "db" | "registry" | "health" | "failover">> & { dataClass: string }) {
  authorize(actor, "class.view", slug);
  const tenant = await loadTenant(ctx, slug);
  const cls = requireClass(tenant, dataClass);
  return { dataClass: await describeDataClass(ctx, tenant, cls.name) };
}
