// Tenant administration: vendor admin token, or the tenant's own console admin.
import { z } from "zod";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { connectKey, ZConnectKeyRequest, ZConnectKeyResponse } from "../../broker/operations/connect-key";
import { createTenant, ZCreateTenantRequest, ZTenantResponse } from "../../broker/operations/create-tenant";
import { createToken, ZCreateTokenRequest, ZCreateTokenResponse } from "../../broker/operations/create-token";
import { getTenant } from "../../broker/operations/get-tenant";
import { listTokens, ZTokenList } from "../../broker/operations/list-tokens";
import { lockTenant, ZLockRequest } from "../../broker/operations/lock-tenant";
import { revokeToken } from "../../broker/operations/revoke-token";
import { setManualResume, ZSettingsRequest } from "../../broker/operations/set-manual-resume";
import { shredTenant, ZShredRequest, ZShredResponse } from "../../broker/operations/shred-tenant";
import { tenantStatus, ZStatusResponse } from "../../broker/operations/tenant-status";
import { unlockTenant, ZUnlockRequest } from "../../broker/operations/unlock-tenant";
import { ZError, ZSlugParams } from "../schemas";

export function tenantRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants",
    summary: "Create a tenant (state pending until a key is connected)",
    tag: "tenants",
    access: "tenant.create",
    body: ZCreateTenantRequest,
    responses: { 201: ZTenantResponse, 409: ZError, ...errors },
    handler: async ({ body, caller, reply, requestId }) => {
      const tenant = await createTenant({ ctx, actor: caller!, requestId, slug: body.slug, name: body.name });
      return reply.code(201).send({ tenant });
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug",
    summary: "A tenant and its connected key",
    tag: "tenants",
    access: "tenant.view",
    params: ZSlugParams,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params, caller }) => getTenant({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/key",
    summary: "Connect the tenant's KMS key; validated with a real wrap + unwrap round trip",
    tag: "keys",
    access: "key.connect",
    params: ZSlugParams,
    body: ZConnectKeyRequest,
    responses: { 200: ZConnectKeyResponse, 409: ZError, 410: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => connectKey({ ctx, actor: caller!, tenant: params.slug, requestId, provider: body.provider, keyId: body.keyId, serverCaPem: body.serverCaPem }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/tokens",
    summary: "Create a service token (returned once, stored hashed)",
    tag: "tokens",
    access: "token.create",
    params: ZSlugParams,
    body: ZCreateTokenRequest,
    responses: { 201: ZCreateTokenResponse, ...errors },
    handler: async ({ params, body, caller, reply, requestId }) =>
      reply.code(201).send(await createToken({ ctx, actor: caller!, tenant: params.slug, requestId, name: body.name })),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/tokens",
    summary: "List service tokens (never the tokens themselves)",
    tag: "tokens",
    access: "token.list",
    params: ZSlugParams,
    responses: { 200: ZTokenList, ...errors },
    handler: async ({ params, caller }) => listTokens({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "DELETE",
    url: "/api/v1/tenants/:slug/tokens/:tokenId",
    summary: "Revoke a service token, on every instance",
    tag: "tokens",
    access: "token.revoke",
    params: ZSlugParams.extend({ tokenId: z.uuid() }),
    responses: { 204: "revoked", ...errors },
    handler: async ({ params, caller, reply, requestId }) => {
      await revokeToken({ ctx, actor: caller!, tenant: params.slug, requestId, tokenId: params.tokenId });
      return reply.code(204).send();
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/lock",
    summary: "Kill switch: lock the tenant (every data class, or only `dataClass`) now, on every instance; stays locked until an explicit unlock",
    tag: "locks",
    access: "tenant.lock",
    params: ZSlugParams,
    body: ZLockRequest,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params, body, caller, requestId }) => {
      const r = await lockTenant({ ctx, actor: caller!, tenant: params.slug, requestId, reason: body.reason, dataClass: body.dataClass });
      return { tenant: r.tenant, classes: r.classes };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/unlock",
    summary: "Re-validate the key (wrap + unwrap) and resume the tenant: every data class (each key re-validated), or only `dataClass`",
    tag: "locks",
    access: "tenant.unlock",
    params: ZSlugParams,
    body: ZUnlockRequest,
    responses: { 200: ZConnectKeyResponse.omit({ key: true }).extend({ classes: ZTenantResponse.shape.classes }), 409: ZError, 410: ZError, 422: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => unlockTenant({ ctx, actor: caller!, tenant: params.slug, requestId, dataClass: body?.dataClass }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/shred",
    summary: "Crypto-shredding: destroy every data key of the tenant, for good (confirm with the slug); returns the signed certificate of destruction",
    tag: "locks",
    access: "tenant.shred",
    params: ZSlugParams,
    body: ZShredRequest,
    responses: { 200: ZShredResponse, 410: ZError, 503: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => shredTenant({ ctx, actor: caller!, tenant: params.slug, requestId, confirm: body.confirm }),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/settings",
    summary: "Tenant settings: manualResume keeps a KMS-caused lock until an explicit unlock",
    tag: "tenants",
    access: "tenant.settings",
    params: ZSlugParams,
    body: ZSettingsRequest,
    responses: { 200: ZTenantResponse, ...errors },
    handler: async ({ params, body, caller, requestId }) => setManualResume({ ctx, actor: caller!, tenant: params.slug, requestId, manualResume: body.manualResume }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/status",
    summary: "Lock state, since when and why; key health; time-to-lock of the last lock",
    tag: "data",
    access: "status.read",
    params: ZSlugParams,
    responses: { 200: ZStatusResponse, ...errors },
    handler: async ({ params, caller }) => tenantStatus({ ctx, actor: caller!, tenant: params.slug }),
  });
}
