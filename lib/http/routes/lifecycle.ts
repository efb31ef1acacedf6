// Key lifecycle (lib/broker/lifecycle): DEKs per key and version, and the re-wrap job that moves
// them onto the tenant's current key after a key switch or rotation.
import { cancelRewrap } from "../../broker/operations/cancel-rewrap";
import { getLifecycle, ZLifecycle } from "../../broker/operations/get-lifecycle";
import { startRewrap } from "../../broker/operations/start-rewrap";
import { defineRoute, type RouteEnv } from "../route";
import { ZError, ZSlugParams } from "../schemas";

export function lifecycleRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };
  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/lifecycle",
    summary: "DEKs per key and version, what is safe to disable or revoke, and the re-wrap job's progress (done/total, rate, ETA)",
    tag: "keys",
    access: "lifecycle.view",
    params: ZSlugParams,
    responses: { 200: ZLifecycle, ...errors },
    handler: async ({ params, caller }) => getLifecycle({ ctx, actor: caller!, tenant: params.slug }),
  });
  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/lifecycle/rewrap",
    summary: "Start re-wrapping every DEK not under the connected key's current version (returns the open job if one is running)",
    tag: "keys",
    access: "lifecycle.rewrap",
    params: ZSlugParams,
    responses: { 200: ZLifecycle, 409: ZError, 423: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => startRewrap({ ctx, actor: caller!, tenant: params.slug, requestId }),
  });
  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/lifecycle/cancel",
    summary: "Cancel the open re-wrap job; a key switch returns to the earlier key (re-validated), and the DEKs already under the new key are moved back",
    tag: "keys",
    access: "lifecycle.cancel",
    params: ZSlugParams,
    responses: { 200: ZLifecycle, 409: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => cancelRewrap({ ctx, actor: caller!, tenant: params.slug, requestId }),
  });
}
