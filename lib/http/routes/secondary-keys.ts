// A data class's secondary key (issue 12): connect, remove, and the failover drill. Registered
// beside the class resources (classes.ts); the operations are lib/broker/operations/*secondary*.
import { ZConnectClassKeyResponse, ZDataClassParams, ZDataClassResponse, ZFailoverDrillRequest, ZFailoverDrillResponse } from "../../contracts/classes";
import { ZConnectKeyRequest } from "../../contracts/requests";
import { connectSecondaryKey } from "../../broker/operations/connect-secondary-key";
import { removeSecondaryKey } from "../../broker/operations/remove-secondary-key";
import { runFailoverDrill } from "../../broker/operations/run-failover-drill";
import { defineRoute, type RouteEnv } from "../route";
import { ZError } from "../schemas";

export function secondaryKeyRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };
  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/classes/:dataClass/secondary-key",
    summary: "Connect a class's secondary key (validated like a primary); existing DEKs of the class get a form under it (add_secondary job)",
    tag: "keys",
    access: "key.connect",
    params: ZDataClassParams,
    body: ZConnectKeyRequest,
    responses: { 200: ZConnectClassKeyResponse, 409: ZError, 410: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) =>
      connectSecondaryKey({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: params.dataClass, provider: body.provider, keyId: body.keyId, serverCaPem: body.serverCaPem }),
  });
  defineRoute({
    method: "DELETE",
    url: "/api/v1/tenants/:slug/classes/:dataClass/secondary-key",
    summary: "Remove a class's secondary key; its wrapped forms are deleted and the class is served by its primary alone",
    tag: "keys",
    access: "class.secondary_remove",
    params: ZDataClassParams,
    responses: { 200: ZDataClassResponse, 410: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => removeSecondaryKey({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: params.dataClass }),
  });
  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/classes/:dataClass/failover-drill",
    summary: "Failover drill: for `seconds`, every instance unwraps the class's cache misses through the secondary, plus a sample of its DEKs; nothing real is black-holed",
    tag: "keys",
    access: "class.failover_drill",
    params: ZDataClassParams,
    body: ZFailoverDrillRequest,
    responses: { 200: ZFailoverDrillResponse, 409: ZError, 410: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => runFailoverDrill({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: params.dataClass, seconds: body.seconds }),
  });
}
