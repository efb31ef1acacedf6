// Data classes of a tenant (issue 12): each with its own key, DEKs and lock state. `default` is
// the tenant itself (PUT .../classes/default/key is PUT .../key).
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { connectClassKey, ZConnectClassKeyResponse } from "../../broker/operations/connect-class-key";
import { ZConnectKeyRequest } from "../../broker/operations/connect-key";
import { createDataClass, ZCreateDataClassRequest, ZDataClassResponse } from "../../broker/operations/create-data-class";
import { getDataClass, ZDataClassParams } from "../../broker/operations/get-data-class";
import { listDataClasses, ZDataClassList } from "../../broker/operations/list-data-classes";
import { removeDataClass } from "../../broker/operations/remove-data-class";
import { ZError, ZSlugParams } from "../schemas";

export function classRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };
  const params = ZDataClassParams.extend({ slug: ZSlugParams.shape.slug });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/classes",
    summary: "The tenant's data classes (`default` first): key, state, health, DEKs, last lock",
    tag: "classes",
    access: "class.view",
    params: ZSlugParams,
    responses: { 200: ZDataClassList, ...errors },
    handler: async ({ params, caller }) => listDataClasses({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/classes",
    summary: "Create a data class (pending until its key is connected)",
    tag: "classes",
    access: "class.create",
    params: ZSlugParams,
    body: ZCreateDataClassRequest,
    responses: { 201: ZDataClassResponse, 409: ZError, 410: ZError, ...errors },
    handler: async ({ params, body, caller, reply, requestId }) => reply.code(201).send(await createDataClass({ ctx, actor: caller!, tenant: params.slug, requestId, name: body.name })),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/classes/:dataClass",
    summary: "One data class",
    tag: "classes",
    access: "class.view",
    params,
    responses: { 200: ZDataClassResponse, ...errors },
    handler: async ({ params, caller }) => getDataClass({ ctx, actor: caller!, tenant: params.slug, dataClass: params.dataClass }),
  });

  defineRoute({
    method: "DELETE",
    url: "/api/v1/tenants/:slug/classes/:dataClass",
    summary: "Remove a data class and its key connections; 409 while it has data keys",
    tag: "classes",
    access: "class.remove",
    params,
    responses: { 204: "removed", 409: ZError, ...errors },
    handler: async ({ params, caller, reply, requestId }) => {
      await removeDataClass({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: params.dataClass });
      return reply.code(204).send();
    },
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/classes/:dataClass/key",
    summary: "Connect a data class's KMS key; validated like the tenant's key (wrap + unwrap round trip). `default` is PUT .../key",
    tag: "classes",
    access: "key.connect",
    params,
    body: ZConnectKeyRequest,
    responses: { 200: ZConnectClassKeyResponse, 409: ZError, 410: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) =>
      connectClassKey({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: params.dataClass, provider: body.provider, keyId: body.keyId, serverCaPem: body.serverCaPem }),
  });
}
