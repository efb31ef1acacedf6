// Response schemas of the console's tenant read models: key health and what to grant the vendor.
import { z } from "zod";
import { ZKey, ZTenant } from "./requests";
import { ZDeletionWindow, ZKeyHealthSnapshot, ZLastLock } from "./status";
import { ZClassHealth, ZClassLockEntry } from "./classes";

export const ZFleetHealth = z.enum(["locked", "unreachable", "pending", "ok"]);

/** GET /tenants/:slug/health (lib/broker/fleet.ts tenantHealth). */
export const ZTenantHealth = z.object({
  tenant: ZTenant,
  key: ZKey.nullable(),
  health: ZFleetHealth,
  kms: ZKeyHealthSnapshot.nullable().describe("this instance's view of the KMS; null before its first call"),
  probe: z
    .object({
      lastProbeAt: z.string().nullable(),
      outcome: z.string().nullable().describe("success, revoked, unavailable or invalid"),
      latencyMs: z.number().nullable(),
      lastError: z.string().nullable(),
    })
    .nullable()
    .describe("the connected key's last revocation probe; null without a key"),
  deks: z.object({ active: z.number().int(), total: z.number().int() }),
  cacheHitRatio: z.number().nullable().describe("share of data-path requests served from the DEK cache over the last hour"),
  lastLock: ZLastLock.nullable(),
  // The tenant's own (default class) locks: the same entries as a class's history.
  locks: z.array(ZClassLockEntry),
  latency: z.array(z.object({ minute: z.string(), p50: z.number().nullable(), max: z.number().nullable(), calls: z.number().int(), errors: z.number().int() })),
  audit: z.object({ events: z.number().int(), lastAt: z.string().nullable() }),
  deletion: ZDeletionWindow.nullable().optional(),
  classes: z.array(ZClassHealth).optional().describe("every data class, `default` first: key, probe, health, DEKs, lock state and history"),
});

/** GET /tenants/:slug/connect-info: the grants the tenant gives the vendor. */
export const ZConnectInfo = z.object({
  tenantId: z.string().describe("bound into every encryption context the broker sends to the KMS"),
  slug: z.string(),
  aws: z.object({ principal: z.string().nullable().describe("the vendor's IAM principal ARN"), region: z.string() }),
  azure: z.object({ appId: z.string().nullable().describe("the vendor's Entra application (client) id"), allowedHosts: z.array(z.string()) }),
  gcp: z.object({ serviceAccount: z.string().nullable().describe("the vendor's service account e-mail") }),
  pkcs11: z.object({ enabled: z.boolean().describe("whether this broker serves keys on PKCS#11 tokens (BROKER_PKCS11_MODULE)") }),
  kmip: z.object({
    allowedHosts: z.array(z.string()).describe("KMIP servers key references may name (BROKER_KMIP_ALLOWED_HOSTS)"),
    clientCertificate: z
      .object({ commonName: z.string(), certificatePem: z.string(), fingerprintSha256: z.string(), notAfter: z.string() })
      .nullable()
      .describe("the broker's client certificate for this tenant, to register in its KMIP server (null when KMIP is not enabled)"),
  }),
});

/** POST /key-ref/validate: the provider's own format rules, no KMS call. */
export const ZKeyRefCheck = z.object({ ok: z.boolean(), message: z.string().optional().describe("what is wrong, when ok is false") });
