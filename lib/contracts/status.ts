// Lock state and key health as GET /tenants/:slug/status and the key-health read model show them.
// No imports from ./requests, so that file can re-export these without an import cycle.
import { z } from "zod";

export const ZTenantState = z.enum(["pending", "active", "locked"]);
export const ZLockSource = z.enum(["kms", "kill_switch", "drill"]);
export const ZKmsErrorKind = z.enum(["revoked", "unavailable", "invalid"]);

/** This instance's in-memory view of the tenant's KMS (lib/broker/key-health.ts). */
export const ZKeyHealthSnapshot = z.object({
  status: z.enum(["ok", "kms_unreachable", "unknown"]),
  lastSuccessAt: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  lastErrorKind: ZKmsErrorKind.nullable(),
  lastErrorCode: z.string().nullable(),
  consecutiveFailures: z.number().int(),
  recentErrors: z.array(z.object({ at: z.string(), kind: ZKmsErrorKind, code: z.string().nullable() })),
  latencyMsP50: z.number().nullable(),
  latencyMsP99: z.number().nullable(),
  kmsCalls: z.number().int(),
  kmsErrors: z.number().int(),
});

export const ZLastLock = z.object({
  cause: z.string().describe("kms, kill_switch or drill"),
  reason: z.string().nullable(),
  revokedAt: z.string().nullable(),
  detectedAt: z.string().nullable(),
  effectiveAt: z.string(),
  detectionMs: z.number().nullable().describe("from the revocation to its detection; null when the revocation time is unknown"),
  fanoutMs: z.number().nullable().describe("until every live instance acknowledged the lock; null without peers"),
});

/** A deletion the tenant scheduled on its key, as the KMS reports it (lib/broker/deletion-window.ts). */
export const ZDeletionWindow = z
  .object({
    unrecoverableAfter: z.string().describe("ISO 8601: when the KMS destroys the key for good (AWS DeletionDate, GCP destroyTime, Azure scheduledPurgeDate); cancel the deletion before it or the data is lost"),
    daysLeft: z.number().int().describe("whole days until then, rounded up; 0 once it has passed"),
  })
  .describe("the key is scheduled for deletion; null when no deletion is pending or its date is not visible to the broker");

/** One data class's lock state, as status and tenant responses list them (lib/broker/data-class-view.ts). */
export const ZClassState = z.object({
  name: z.string().describe("the class; `default` is the tenant's own state"),
  state: ZTenantState,
  since: z.string(),
  reason: z.string().nullable(),
  lockSource: z.string().nullable(),
});

export const ZStatusResponse = z.object({
  state: ZTenantState,
  since: z.string(),
  reason: z.string().nullable(),
  lockSource: z.string().nullable().optional(),
  health: ZKeyHealthSnapshot.optional(),
  lastLock: ZLastLock.nullable().optional(),
  deletion: ZDeletionWindow.nullable().optional(),
  shreddedAt: z.string().nullable().optional().describe("when the tenant's data keys were destroyed (crypto-shredding); null if never"),
  classes: z.array(ZClassState).optional().describe("every data class's lock state, `default` first (the top-level state is `default`'s)"),
});
