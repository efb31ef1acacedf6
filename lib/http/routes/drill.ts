// Revocation drill (lib/broker/drill.ts): lock, measure fan-out, re-validate, resume.
import { z } from "zod";
import { runDrill } from "../../broker/operations/run-drill";
import { defineRoute, type RouteEnv } from "../route";
import { ZError, ZSlugParams, ZValidationStep } from "../schemas";

export const ZDrillReport = z.object({
  outcome: z.enum(["completed", "key_revoked", "superseded", "resumed_unverified"]),
  state: z.enum(["pending", "active", "locked"]),
  lockedAt: z.string(),
  fanoutMs: z.number().nullable().describe("until every live instance acknowledged the lock; null without peers"),
  peers: z.number(),
  unlockedAt: z.string().nullable(),
  revalidationMs: z.number(),
  totalMs: z.number(),
  validation: z.object({ steps: z.array(ZValidationStep) }),
});

export function drillRoutes(env: RouteEnv) {
  const { ctx } = env;
  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/drill",
    summary: "Revocation drill: lock on every instance (reason drill), measure fan-out, resume by re-validation; refused (409) if the tenant is locked",
    tag: "locks",
    access: "drill.run",
    params: ZSlugParams,
    responses: { 200: ZDrillReport, 400: ZError, 401: ZError, 403: ZError, 404: ZError, 409: ZError, 422: ZError, 503: ZError },
    handler: async ({ params, caller, requestId }) => runDrill({ ctx, actor: caller!, tenant: params.slug, requestId }),
  });
}
