// GET /api/v1/fleet: every tenant with state and key health, for the vendor.
import { authorize } from "../../auth/authorize";
import { listFleet as fleet, type FleetDeps, type TFleetQuery } from "../fleet";
import type { OperationBase } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZFleetPage } from "../../contracts/fleet";

export { ZFleetQuery, type TFleetQuery } from "../fleet";

export async function listFleet({ ctx, actor, query }: OperationBase<FleetDeps> & { query: TFleetQuery }) {
  authorize(actor, "fleet.view");
  return fleet(ctx, query);
}
