// The vendor's fleet view: every tenant's state and key health, paginated on the server.
import { z } from "zod";
import { fleetKmsActivity, listFleet, ZFleetQuery } from "../../broker/fleet";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError } from "../schemas";

const ZFleetResponse = z.object({
  tenants: z.array(z.record(z.string(), z.unknown())),
  page: z.number(),
  pageSize: z.number(),
  total: z.number(),
  pages: z.number(),
  summary: z.record(z.string(), z.number()),
  /** Vendor-side KMS credential faults seen by any instance in the last minutes (never tenant locks). */
  vendorAlarms: z.array(
    z.object({ instanceId: z.string(), provider: z.string(), cause: z.string(), message: z.string(), count: z.number(), firstAt: z.string(), lastAt: z.string() }),
  ),
});

export function fleetRoutes(env: RouteEnv) {
  defineRoute({
    method: "GET",
    url: "/api/v1/fleet",
    summary: "All tenants with state and key health; locked and unreachable first (vendor admin or vendor operator)",
    tag: "fleet",
    access: "vendor_read",
    query: ZFleetQuery,
    responses: { 200: ZFleetResponse, 400: ZError, 401: ZError, 403: ZError },
    handler: async ({ query }) => listFleet(env.broker, query),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/fleet/kms-activity",
    summary: "Fleet-wide KMS calls and errors per minute (from the audit log, every instance), zero-filled",
    tag: "fleet",
    access: "vendor_read",
    query: z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(60) }),
    responses: {
      200: z.object({
        from: z.string(),
        to: z.string(),
        minutes: z.array(z.object({ minute: z.string(), calls: z.number(), errors: z.number() })),
        calls: z.number(),
        errors: z.number(),
      }),
      400: ZError,
      401: ZError,
      403: ZError,
    },
    handler: async ({ query }) => fleetKmsActivity(env.broker, { minutes: query.minutes }),
  });
}
