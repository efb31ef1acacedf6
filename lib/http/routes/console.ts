// Endpoints the console needs besides the tenant API: who am I, live key-reference format
// checks, what to grant the vendor, and the key-health read model.
import { BrokerError } from "../../broker/errors";
import { checkKeyRef, ZKeyRefCheck, ZKeyRefCheckRequest } from "../../broker/operations/check-key-ref";
import { ZMe } from "../../contracts/route-requests";
import { getConnectInfo, ZConnectInfo } from "../../broker/operations/get-connect-info";
import { tenantHealth, ZTenantHealth } from "../../broker/operations/tenant-health";
import { isFreshAuth, REAUTH_WINDOW_MS } from "../../auth/permissions";
import { resolveCaller } from "../auth";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError, ZSlugParams } from "../schemas";

export { ZMe };

export function consoleRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  const requireCaller = async (req: Parameters<typeof resolveCaller>[0]) => {
    const caller = await resolveCaller(req, ctx, env.adminTokenHash, env.resolveSession);
    if (!caller) throw new BrokerError("unauthenticated", "sign in, or send Authorization: Bearer <token>");
    return caller;
  };

  defineRoute({
    method: "GET",
    url: "/api/v1/me",
    summary: "The authenticated caller",
    tag: "console",
    access: "public",
    responses: { 200: ZMe, 401: ZError },
    handler: async ({ req }) => {
      const c = await requireCaller(req);
      if (c.kind !== "console") return { kind: c.kind, email: null, role: null, tenantSlug: null, authTime: null, reauthBefore: null };
      return {
        kind: "console",
        email: c.email,
        role: c.role,
        tenantSlug: c.tenantSlug,
        authTime: c.authTime,
        reauthBefore: isFreshAuth(c.authTime) ? c.authTime + REAUTH_WINDOW_MS : null,
      };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/key-ref/validate",
    summary: "Check a key reference's format with the provider's own rules (no KMS call)",
    tag: "keys",
    access: "key.check",
    body: ZKeyRefCheckRequest,
    responses: { 200: ZKeyRefCheck, 401: ZError },
    handler: ({ body, caller }) => Promise.resolve(checkKeyRef({ ctx, actor: caller!, provider: body.provider, keyId: body.keyId.trim() })),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/connect-info",
    summary: "What the tenant must grant: the vendor's identities per cloud and the tenant id bound into the encryption context",
    tag: "keys",
    access: "tenant.view",
    params: ZSlugParams,
    responses: { 200: ZConnectInfo, ...errors },
    handler: async ({ params, caller }) => {
      const c = ctx.config;
      // The vendor identities are configuration (against the emulators, their launcher supplies theirs).
      const vendor = { awsPrincipal: c.BROKER_VENDOR_AWS_PRINCIPAL ?? null, gcpServiceAccount: c.BROKER_VENDOR_GCP_SERVICE_ACCOUNT ?? null };
      return getConnectInfo({ ctx, actor: caller!, tenant: params.slug, vendor });
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/health",
    summary: "Key health: state, probe, KMS latency and errors, DEKs, cache hit ratio, past locks with time-to-lock",
    tag: "tenants",
    access: "tenant.view",
    params: ZSlugParams,
    responses: { 200: ZTenantHealth, ...errors },
    handler: async ({ params, caller }) => tenantHealth({ ctx, actor: caller!, tenant: params.slug }),
  });
}
