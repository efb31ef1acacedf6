// POST /api/v1/tenants/{slug}/drill: a revocation drill (lib/broker/drill.ts) by an admin.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { runDrill as drill, type DrillDeps, type DrillReport } from "../drill";
import type { TenantOperation } from "./types";

export { ZDrillReport } from "../../contracts/route-requests";

export type { DrillReport } from "../drill";

export async function runDrill({ ctx, actor, tenant, requestId }: TenantOperation<DrillDeps>): Promise<DrillReport> {
  authorize(actor, "drill.run", tenant);
  return drill(ctx, actorOf(actor), tenant, requestId);
}
