// Request schemas of the audit, webhook, fleet, console and drill operations (they used to be
// written inline in the routes). Each operation re-exports its own; the routes take them from there.
import { z } from "zod";
import { ZKmsProviderName } from "./providers";
import { ACTIVITY_MAX_MINUTES } from "../audit/catalog";
import { isSafeText, SAFE_TEXT_MESSAGE, ZSafeString } from "../validation/safe-text";
import { ZValidationStep } from "./requests";

const csv = ZSafeString.max(500).transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));

export const ZAuditFilters = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  action: csv.optional(),
  outcome: csv.optional(),
  actor: ZSafeString.max(200).optional(),
  keyRef: ZSafeString.max(2048).optional(),
  purpose: ZSafeString.max(200).optional(),
  requestId: ZSafeString.max(128).optional(),
});
export type TAuditFilters = z.infer<typeof ZAuditFilters>;

export const ZAuditListQuery = ZAuditFilters.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: ZSafeString.max(200).optional(),
});

export const ZAuditExportQuery = ZAuditFilters.extend({ format: z.enum(["jsonl", "csv"]).default("jsonl") });

export const ZAuditActivityQuery = z.object({ minutes: z.coerce.number().int().min(1).max(ACTIVITY_MAX_MINUTES).default(60) });

export const ZAuditRetentionRequest = z.strictObject({ days: z.number().int().min(1).max(3650).nullable() });

export const ZWebhookCreateRequest = z.strictObject({ url: z.url().max(2048).refine(isSafeText, SAFE_TEXT_MESSAGE) });

export const ZWebhookDeliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

export const ZFleetKmsActivityQuery = z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(60) });

export const ZKeyRefCheckRequest = z.strictObject({ provider: ZKmsProviderName, keyId: ZSafeString.max(4096) });

export const ZMe = z.object({
  kind: z.enum(["admin", "service", "console"]),
  email: z.string().nullable(),
  role: z.string().nullable(),
  tenantSlug: z.string().nullable(),
  authTime: z.number().nullable(),
  reauthBefore: z.number().nullable().describe("epoch ms until which key-changing actions need no password confirmation"),
});

export const ZDrillReport = z.object({
  outcome: z.enum(["completed", "key_revoked", "superseded", "resumed_unverified"]),
  state: z.enum(["pending", "active", "locked"]),
  lockedAt: z.string(),
  fanoutMs: z.number().nullable().describe("until every live instance acknowledged the lock; null without peers"),
  peers: z.number(),
  unlockedAt: z.string().nullable(),
  revalidationMs: z.number(),
  totalMs: z.number(),
  validation: z.object({ steps: z.array(ZValidationStep) }),
});
