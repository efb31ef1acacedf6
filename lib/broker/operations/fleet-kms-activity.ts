// GET /api/v1/fleet/kms-activity: fleet-wide KMS calls and errors per minute.
import { authorize } from "../../auth/authorize";
import { fleetKmsActivity as activity, type FleetDeps } from "../fleet";
import type { OperationBase } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZFleetKmsActivity } from "../../contracts/fleet";
export { ZFleetKmsActivityQuery } from "../../contracts/route-requests";

export async function fleetKmsActivity({ ctx, actor, minutes }: OperationBase<Pick<FleetDeps, "db">> & { minutes: number }) {
  authorize(actor, "fleet.view");
  return activity(ctx, { minutes });
}
