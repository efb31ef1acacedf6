// GET /api/v1/tenants/{slug}: the tenant and its connected key, read fresh.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { loadTenant } from "../tenant-lookup";
import { describeDeletionWindow } from "../deletion-window";
import { describeClassStates } from "../data-class-view";
import { describeKey, describeTenant } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTenantResponse } from "../../contracts/requests";

export async function getTenant({ ctx, actor, tenant }: TenantOperation<Pick<BrokerContext, "registry" | "db">>) {
  authorize(actor, "tenant.view", tenant);
  const t = await loadTenant(ctx, tenant);
  return { tenant: describeTenant(t), key: describeKey(t), deletion: await describeDeletionWindow(ctx, t), classes: describeClassStates(t) };
}
export type GetTenantResult = Awaited<ReturnType<typeof getTenant>>;
