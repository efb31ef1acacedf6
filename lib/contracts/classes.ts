// Key scopes (issue 12): data classes, their primary and secondary keys, the failover drill, and
// the scope of a service token. The routes of lib/http/routes/classes.ts validate with these; the
// console's types and the OpenAPI document come from them.
import { z } from "zod";
import { ZKmsProviderName } from "./providers";
import { ZDataClassName } from "./data-class-name";
import { ZKey, ZLockRequest, ZValidationStep } from "./requests";
import { ZDeletionWindow, ZKeyHealthSnapshot, ZLastLock, ZTenantState } from "./status";

export { ZClassState } from "./status";
export { ZDataClassName };

export const ZCreateDataClassRequest = z.strictObject({ name: ZDataClassName.refine((n) => n !== "default", "`default` always exists") });
export const ZDataClassParams = z.object({ slug: z.string(), dataClass: ZDataClassName });

/** The key of a class as a class card shows it; a secondary has the same shape. */
export const ZClassKey = ZKey.extend({
  role: z.enum(["primary", "secondary"]),
  probe: z
    .object({ lastProbeAt: z.string().nullable(), outcome: z.string().nullable(), latencyMs: z.number().nullable(), lastError: z.string().nullable() })
    .nullable()
    .describe("the key's last revocation probe"),
  deletion: ZDeletionWindow.nullable().optional(),
});

export const ZSecondaryCoverage = z
  .object({
    deks: z.number().int().describe("DEKs of the class"),
    wrapped: z.number().int().describe("DEKs of the class that also have a form wrapped under the secondary"),
    job: z.object({ state: z.string(), done: z.number().int(), total: z.number().int() }).nullable().describe("the re-wrap job adding the secondary's forms, while one exists"),
  })
  .describe("how much of the class the secondary can unwrap today");

export const ZDataClass = z.object({
  name: ZDataClassName,
  state: ZTenantState,
  since: z.string(),
  reason: z.string().nullable(),
  lockSource: z.string().nullable(),
  key: ZClassKey.nullable(),
  secondary: ZClassKey.nullable(),
  coverage: ZSecondaryCoverage.nullable().describe("null without a secondary"),
  failover: z
    .object({
      active: z.boolean().describe("unwraps went through the secondary within the last minute"),
      lastAt: z.string().nullable(),
      count: z.number().int().describe("unwraps through the secondary on this instance since start"),
    })
    .describe("this instance's view of failovers to the secondary"),
  health: ZKeyHealthSnapshot.nullable(),
  deks: z.object({ active: z.number().int(), total: z.number().int() }),
  lastLock: ZLastLock.nullable(),
});

export const ZDataClassList = z.object({ classes: z.array(ZDataClass) });

/** One lock of a class (or of the tenant, its default class), as the health page's history lists it. */
export const ZClassLockEntry = z.object({
  id: z.string(),
  cause: z.string().describe("kms, kill_switch or drill"),
  reason: z.string().nullable(),
  revokedAt: z.string().nullable(),
  detectedAt: z.string().nullable(),
  effectiveAt: z.string(),
  timeToLockMs: z.number().nullable().describe("from the revocation (when known) to enforcement"),
  detectionMs: z.number().nullable(),
  fanoutMs: z.number().nullable(),
});
/** A class on the health page: its card plus its recent locks. */
export const ZClassHealth = ZDataClass.extend({ locks: z.array(ZClassLockEntry).describe("the class's last locks, newest first") });

/** POST .../lock and .../unlock: without `dataClass`, every class of the tenant. */
export const ZClassLockRequest = ZLockRequest.extend({ dataClass: ZDataClassName.optional().describe("lock this class only; absent: every class") });
export const ZUnlockRequest = z
  .strictObject({ dataClass: ZDataClassName.optional().describe("unlock this class only (its key re-validated); absent: every class, each key re-validated") })
  .optional();
export const ZDataClassResponse = z.object({ dataClass: ZDataClass });

/** PUT .../classes/{class}/key and .../classes/{class}/secondary-key: the same body as PUT .../key. */
export const ZConnectClassKeyResponse = z.object({
  dataClass: ZDataClass,
  validation: z.object({ steps: z.array(ZValidationStep) }),
});

/** POST .../classes/{class}/failover-drill: forces unwraps through the secondary for a moment. */
export const ZFailoverDrillRequest = z.strictObject({
  seconds: z.number().int().min(1).max(60).default(10).describe("how long unwraps of the class go through the secondary"),
});
export const ZFailoverDrillResponse = z.object({
  dataClass: ZDataClassName,
  startedAt: z.string(),
  endedAt: z.string(),
  secondary: z.object({ provider: ZKmsProviderName, keyId: z.string() }),
  unwraps: z.object({ attempted: z.number().int(), succeeded: z.number().int(), failed: z.number().int() }).describe("unwraps through the secondary during the drill (the drill's own check included)"),
  latencyMs: z.object({ p50: z.number().nullable(), max: z.number().nullable() }),
  ok: z.boolean().describe("the secondary unwrapped everything it was asked to"),
  errors: z.array(z.object({ code: z.string(), count: z.number().int() })),
});

/** The scope of a service token (POST /tenants/{slug}/tokens takes these fields; lists show them). */
export const ZTokenOperation = z.enum(["encrypt", "decrypt"]);
export const ZTokenScope = z.object({
  operations: z.array(ZTokenOperation).min(1).max(2).describe("what the token may do; both by default"),
  dataClasses: z.array(ZDataClassName).min(1).max(64).nullable().describe("the classes the token may use; null: every class"),
});
