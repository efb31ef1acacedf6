// The vendor's fleet view: every tenant's state and key health, paginated on the server.
import { fleetKmsActivity, ZFleetKmsActivity, ZFleetKmsActivityQuery } from "../../broker/operations/fleet-kms-activity";
import { listFleet, ZFleetQuery, ZFleetPage } from "../../broker/operations/list-fleet";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError } from "../schemas";

export function fleetRoutes(env: RouteEnv) {
  defineRoute({
    method: "GET",
    url: "/api/v1/fleet",
    summary: "All tenants with state and key health; locked and unreachable first (vendor admin or vendor operator)",
    tag: "fleet",
    access: "fleet.view",
    query: ZFleetQuery,
    responses: { 200: ZFleetPage, 400: ZError, 401: ZError, 403: ZError },
    handler: async ({ query, caller }) => listFleet({ ctx: env.ctx, actor: caller!, query }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/fleet/kms-activity",
    summary: "Fleet-wide KMS calls and errors per minute (from the audit log, every instance), zero-filled",
    tag: "fleet",
    access: "fleet.view",
    query: ZFleetKmsActivityQuery,
    responses: { 200: ZFleetKmsActivity, 400: ZError, 401: ZError, 403: ZError },
    handler: async ({ query, caller }) => fleetKmsActivity({ ctx: env.ctx, actor: caller!, minutes: query.minutes }),
  });
}
