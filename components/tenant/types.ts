// Response shapes of the endpoints the tenant pages read (lib/broker/fleet.ts, lib/http/schemas.ts).
// Type-only imports: the API's zod schemas are the one definition, and nothing of them ships to the browser.
import type { z } from "zod";
import type { ZKey, ZTenant } from "@/lib/http/schemas";

export type TenantInfo = z.infer<typeof ZTenant>;
export type KeyInfo = z.infer<typeof ZKey>;

export type { ValidationStep } from "@/lib/broker/key-validation";

export interface TenantHealth {
  tenant: TenantInfo;
  key: KeyInfo | null;
  health: "locked" | "unreachable" | "pending" | "ok";
  kms: {
    status: string;
    lastSuccessAt: string | null;
    lastErrorAt: string | null;
    lastErrorKind: string | null;
    lastErrorCode: string | null;
    recentErrors: Array<{ at: string; kind: string; code: string | null }>;
    latencyMsP50: number | null;
    latencyMsP99: number | null;
    kmsCalls: number;
    kmsErrors: number;
  } | null;
  probe: { lastProbeAt: string | null; outcome: string | null; latencyMs: number | null; lastError: string | null } | null;
  deks: { active: number; total: number };
  cacheHitRatio: number | null;
  lastLock: { cause: string; reason: string | null; detectionMs: number | null; fanoutMs: number | null; effectiveAt: string } | null;
  locks: Array<{ id: string; cause: string; reason: string | null; revokedAt: string | null; detectedAt: string | null; effectiveAt: string; timeToLockMs: number | null; detectionMs: number | null; fanoutMs: number | null }>;
  latency: Array<{ minute: string; p50: number | null; max: number | null; calls: number; errors: number }>;
  audit: { events: number; lastAt: string | null };
}
