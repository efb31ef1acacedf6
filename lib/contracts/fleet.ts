// Response schemas of the vendor's fleet view (lib/broker/fleet.ts).
import { z } from "zod";
import { ZKmsProviderName } from "./providers";
import { ZFleetHealth } from "./tenants";
import { ZTenantState } from "./status";

export const ZFleetTenant = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  state: ZTenantState,
  since: z.string(),
  lockReason: z.string().nullable(),
  lockSource: z.string().nullable(),
  provider: ZKmsProviderName.nullable(),
  keyId: z.string().nullable(),
  health: ZFleetHealth,
  lastProbeAt: z.string().nullable(),
  lastProbeOutcome: z.string().nullable(),
  lastProbeLatencyMs: z.number().nullable(),
  lastError: z.string().nullable(),
  latencyMsP50: z.number().nullable().describe("this instance's view"),
  latencyMsP99: z.number().nullable().describe("this instance's view"),
  errorRate: z.number().nullable(),
  lastSuccessAt: z.string().nullable(),
  cacheHitRatio: z.number().nullable(),
});

export const ZFleetPage = z.object({
  tenants: z.array(ZFleetTenant).describe("locked and unreachable first"),
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
  pages: z.number().int(),
  summary: z.object({ locked: z.number().int(), unreachable: z.number().int(), pending: z.number().int(), ok: z.number().int() }).describe("tenants per health, unfiltered"),
  vendorAlarms: z
    .array(
      z.object({
        instanceId: z.string(),
        provider: z.string(),
        cause: z.string(),
        message: z.string(),
        count: z.number().int(),
        firstAt: z.string(),
        lastAt: z.string(),
      }),
    )
    .describe("vendor-side KMS credential faults seen by any instance in the last minutes (never tenant locks)"),
});

export const ZFleetKmsActivity = z.object({
  from: z.string(),
  to: z.string(),
  minutes: z.array(z.object({ minute: z.string(), calls: z.number().int(), errors: z.number().int() })),
  calls: z.number().int(),
  errors: z.number().int(),
});
