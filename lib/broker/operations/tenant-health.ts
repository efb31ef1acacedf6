// GET /api/v1/tenants/{slug}/health: the key-health page's read model (read-only, so vendor
// operators may see it too).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeDeletionWindow } from "../deletion-window";
import { describeDataClasses } from "../data-class-view";
import { tenantHealth as health } from "../fleet";
import { loadTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTenantHealth } from "../../contracts/tenants";

export async function tenantHealth({ ctx, actor, tenant }: TenantOperation<Pick<BrokerContext, "db" | "health" | "registry" | "failover">>) {
  authorize(actor, "tenant.view", tenant);
  const t = await loadTenant(ctx, tenant);
  const [view, deletion, classes] = await Promise.all([health(ctx, t), describeDeletionWindow(ctx, t), describeDataClasses(ctx, t, { history: 10 })]);
  return { ...view, deletion, classes };
}
