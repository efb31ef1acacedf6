// Revocation drill (lib/broker/drill.ts): lock, measure fan-out, re-validate, resume.
import { runDrill, ZDrillReport } from "../../broker/operations/run-drill";
import { defineRoute, type RouteEnv } from "../route";
import { ZError, ZSlugParams } from "../schemas";

export { ZDrillReport };

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
