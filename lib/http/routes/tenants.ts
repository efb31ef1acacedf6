// Tenant administration: vendor admin token, or the tenant's own console admin.
import { z } from "zod";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { actorOf } from "../auth";
import {
  ZConnectKeyRequest,
  ZConnectKeyResponse,
  ZCreateTenantRequest,
  ZCreateTokenRequest,
  ZCreateTokenResponse,
  ZError,
  ZLockRequest,
  ZSettingsRequest,
  ZSlugParams,
  ZStatusResponse,
  ZTenantResponse,
  ZTokenList,
} from "../schemas";

export function tenantRoutes(env: RouteEnv) {
  const { broker } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants",
    summary: "Create a tenant (state pending until a key is connected)",
    tag: "tenants",
    access: "vendor_admin",
    body: ZCreateTenantRequest,
    responses: { 201: ZTenantResponse, 409: ZError, ...errors },
    handler: async ({ body, caller, reply, requestId }) => {
      const tenant = await broker.createTenant(actorOf(caller!), body, requestId);
      return reply.code(201).send({ tenant });
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug",
    summary: "A tenant and its connected key",
    tag: "tenants",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params }) => broker.getTenant(params.slug),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/key",
    summary: "Connect the tenant's KMS key; validated with a real wrap + unwrap round trip",
    tag: "keys",
    access: "tenant_admin",
    params: ZSlugParams,
    body: ZConnectKeyRequest,
    responses: { 200: ZConnectKeyResponse, 409: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => broker.connectKey(actorOf(caller!), params.slug, body, requestId),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/tokens",
    summary: "Create a service token (returned once, stored hashed)",
    tag: "tokens",
    access: "tenant_admin",
    params: ZSlugParams,
    body: ZCreateTokenRequest,
    responses: { 201: ZCreateTokenResponse, ...errors },
    handler: async ({ params, body, caller, reply, requestId }) =>
      reply.code(201).send(await broker.createToken(actorOf(caller!), params.slug, body.name, requestId)),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/tokens",
    summary: "List service tokens (never the tokens themselves)",
    tag: "tokens",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: ZTokenList, ...errors },
    handler: async ({ params }) => ({ tokens: await broker.listTokens(params.slug) }),
  });

  defineRoute({
    method: "DELETE",
    url: "/api/v1/tenants/:slug/tokens/:tokenId",
    summary: "Revoke a service token, on every instance",
    tag: "tokens",
    access: "tenant_admin",
    params: ZSlugParams.extend({ tokenId: z.uuid() }),
    responses: { 204: "revoked", ...errors },
    handler: async ({ params, caller, reply, requestId }) => {
      await broker.revokeToken(actorOf(caller!), params.slug, params.tokenId, requestId);
      return reply.code(204).send();
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/lock",
    summary: "Kill switch: lock the tenant now, on every instance; stays locked until an explicit unlock",
    tag: "locks",
    access: "tenant_admin",
    params: ZSlugParams,
    body: ZLockRequest,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params, body, caller, requestId }) => {
      const r = await broker.lock(actorOf(caller!), params.slug, body.reason, requestId);
      return { tenant: r.tenant };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/unlock",
    summary: "Re-validate the key (wrap + unwrap) and resume the tenant",
    tag: "locks",
    access: "tenant_admin",
    params: ZSlugParams,
    responses: { 200: ZConnectKeyResponse.omit({ key: true }), 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => broker.unlock(actorOf(caller!), params.slug, requestId),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/settings",
    summary: "Tenant settings: manualResume keeps a KMS-caused lock until an explicit unlock",
    tag: "tenants",
    access: "tenant_admin",
    params: ZSlugParams,
    body: ZSettingsRequest,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params, body, caller, requestId }) => broker.setManualResume(actorOf(caller!), params.slug, body.manualResume, requestId),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/status",
    summary: "Lock state, since when and why; key health; time-to-lock of the last lock",
    tag: "data",
    access: "service_or_read",
    params: ZSlugParams,
    responses: { 200: ZStatusResponse, ...errors },
    handler: async ({ params, caller }) => {
      if (caller?.kind === "service") await broker.assertTokenTenant(caller, params.slug);
      return broker.status(params.slug);
    },
  });
}
