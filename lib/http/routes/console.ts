// Endpoints the console needs besides the tenant API: who am I, live key-reference format
// checks, what to grant the vendor, and the key-health read model.
import { z } from "zod";
import { BrokerError } from "../../broker/errors";
import { tenantHealth } from "../../broker/fleet";
import { isFreshAuth, REAUTH_WINDOW_MS } from "../../auth/roles";
import { resolveCaller } from "../auth";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError, ZSlugParams } from "../schemas";

const ZMe = z.object({
  kind: z.enum(["admin", "service", "console"]),
  email: z.string().nullable(),
  role: z.string().nullable(),
  tenantSlug: z.string().nullable(),
  authTime: z.number().nullable(),
  reauthBefore: z.number().nullable().describe("epoch ms until which key-changing actions need no password confirmation"),
});

export function consoleRoutes(env: RouteEnv) {
  const { broker } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  const requireCaller = async (req: Parameters<typeof resolveCaller>[0]) => {
    const caller = await resolveCaller(req, broker, env.adminTokenHash, env.resolveSession);
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
    access: "public",
    body: z.strictObject({ provider: z.enum(["aws", "azure", "gcp"]), keyId: z.string().max(4096) }),
    responses: { 200: z.object({ ok: z.boolean(), message: z.string().optional() }), 401: ZError },
    handler: async ({ req, body }) => {
      await requireCaller(req);
      return broker.checkKeyRef(body.provider, body.keyId.trim());
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/connect-info",
    summary: "What the tenant must grant: the vendor's identities per cloud and the tenant id bound into the encryption context",
    tag: "keys",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: z.record(z.string(), z.unknown()), ...errors },
    handler: async ({ params }) => {
      const t = await broker.requireTenant(params.slug);
      const c = broker.config;
      // The vendor identities are configuration (against the emulators, their launcher supplies theirs).
      const gcpSa = c.BROKER_VENDOR_GCP_SERVICE_ACCOUNT ?? null;
      return {
        tenantId: t.id,
        slug: t.slug,
        aws: { principal: c.BROKER_VENDOR_AWS_PRINCIPAL ?? null, region: c.AWS_REGION },
        azure: { appId: c.BROKER_VENDOR_AZURE_APP_ID ?? c.AZURE_CLIENT_ID ?? null, allowedHosts: c.AZURE_KEYVAULT_ALLOWED_HOSTS },
        gcp: { serviceAccount: gcpSa },
      };
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/health",
    summary: "Key health: state, probe, KMS latency and errors, DEKs, cache hit ratio, past locks with time-to-lock",
    tag: "tenants",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: z.record(z.string(), z.unknown()), ...errors },
    handler: async ({ params }) => tenantHealth(broker, params.slug),
  });
}
