// Request and response schemas of tenant governance (issue 13): purpose policies, access
// windows, maintenance windows, break-glass exceptions, alerts on unusual key use, thresholds.
import { z } from "zod";
import { ZSafeString } from "../validation/safe-text";
import { PURPOSE_CODE_PATTERN, STANDARD_PURPOSE_CODES } from "./purposes";
import { ZSlug } from "./requests";

export { STANDARD_PURPOSES, STANDARD_PURPOSE_CODES, PURPOSE_CODE_PATTERN, isStandardPurpose } from "./purposes";

export const ZPurposeCode = ZSafeString.regex(PURPOSE_CODE_PATTERN, "a purpose code: 2-63 lowercase letters, digits and underscores, starting with a letter").describe(
  `A standard purpose code (${STANDARD_PURPOSE_CODES.join(", ")}) or one the tenant defined`,
);

export const ZTokenParams = z.object({ slug: ZSlug, tokenId: z.uuid() });

// ---- purposes

export const ZPurposeCatalog = z.object({
  standard: z.array(z.object({ code: z.string(), description: z.string() })),
  custom: z.array(z.object({ code: z.string(), description: z.string(), createdAt: z.string() })).describe("the tenant's own codes"),
});
export const ZCustomPurpose = z.object({ code: z.string(), description: z.string(), createdAt: z.string() });
export const ZPurposeCodeParams = z.object({ slug: ZSlug, code: ZPurposeCode });
export const ZPurposeCodeRequest = z.strictObject({ description: ZSafeString.trim().min(1).max(300) });

export const ZPurposePolicy = z.object({
  tokenId: z.string(),
  allowedPurposes: z.array(z.string()).nullable().describe("purpose codes this token may give; null: any purpose"),
  requirePurpose: z.boolean().describe("a request without a purpose is refused (403 purpose_denied)"),
  updatedAt: z.string().nullable().describe("null: the token has never had a policy (any purpose, none required)"),
});
export const ZPurposePolicyRequest = z.strictObject({
  allowedPurposes: z.array(ZPurposeCode).max(64).nullable(),
  requirePurpose: z.boolean(),
});

// ---- access windows

const ZHourMinute = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, "HH:MM, 00:00 to 24:00");
export const ZWeeklyWindow = z.strictObject({
  days: z.array(z.number().int().min(1).max(7)).min(1).max(7).describe("ISO weekdays: 1 Monday .. 7 Sunday"),
  start: ZHourMinute.describe("local time in the tenant's time zone, inclusive"),
  end: ZHourMinute.describe("local time, exclusive; not after start: the window runs over midnight"),
});
export const ZAccessWindows = z.object({
  tokenId: z.string(),
  timeZone: z.string().describe("the tenant's IANA time zone, in which the windows are read"),
  weekly: z.array(ZWeeklyWindow).nullable().describe("null: no window restriction; []: only maintenance windows and break-glass"),
});
export const ZAccessWindowsRequest = z.strictObject({ weekly: z.array(ZWeeklyWindow).max(32).nullable() });

export const ZTimeZoneRequest = z.strictObject({ timeZone: ZSafeString.min(1).max(64).describe("IANA time zone, e.g. Europe/Paris") });
export const ZTimeZone = z.object({ timeZone: z.string() });

export const ZMaintenanceWindow = z.object({
  id: z.string(),
  tokenId: z.string().nullable().describe("null: every window-restricted token of the tenant"),
  startsAt: z.string(),
  endsAt: z.string(),
  note: z.string(),
  createdAt: z.string(),
});
export const ZMaintenanceWindowRequest = z
  .strictObject({
    tokenId: z.uuid().nullable().default(null),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }),
    note: ZSafeString.trim().min(1).max(300),
  })
  .refine((w) => Date.parse(w.endsAt) > Date.parse(w.startsAt), { message: "endsAt must be after startsAt", path: ["endsAt"] })
  .refine((w) => Date.parse(w.endsAt) - Date.parse(w.startsAt) <= 31 * 86_400_000, { message: "a maintenance window lasts at most 31 days", path: ["endsAt"] });
export const ZMaintenanceWindowList = z.object({ windows: z.array(ZMaintenanceWindow) });

// ---- break-glass

export const MAX_BREAK_GLASS_MINUTES = 24 * 60;
export const ZBreakGlassGrant = z.object({
  id: z.string(),
  tokenId: z.string().nullable().describe("null: every token of the tenant"),
  reason: z.string(),
  grantedBy: z.string(),
  startsAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  active: z.boolean().describe("in force now"),
});
export const ZBreakGlassRequest = z.strictObject({
  tokenId: z.uuid().nullable().default(null),
  reason: ZSafeString.trim().min(10, "say why, in at least 10 characters").max(500),
  durationMinutes: z.number().int().min(1).max(MAX_BREAK_GLASS_MINUTES),
});
export const ZBreakGlassList = z.object({ grants: z.array(ZBreakGlassGrant) });
export const ZIdParams = z.object({ slug: ZSlug, id: z.uuid() });

// ---- alerts

export const ALERT_KINDS = ["rate_spike", "refusal_spike", "new_token", "new_purpose", "off_hours"] as const;
export const ZAlertKind = z.enum(ALERT_KINDS);
export const ZAlert = z.object({
  id: z.string(),
  tenantId: z.string(),
  tenantSlug: z.string().optional().describe("fleet view only"),
  kind: ZAlertKind,
  subject: z.string().describe("what the alert is about: tenant, token:<id> or purpose:<code>"),
  detail: z.object({
    observed: z.number().describe("the minute's count (requests or refusals) that raised it"),
    baseline: z.number().describe("the learned per-minute baseline, after the floor"),
    threshold: z.number().describe("observed had to exceed this"),
    minute: z.string().describe("the minute evaluated (ISO 8601)"),
  }),
  raisedAt: z.string(),
  lastSeenAt: z.string(),
  resolvedAt: z.string().nullable(),
});
export const ZAlertList = z.object({ alerts: z.array(ZAlert) });
export const ZAlertListQuery = z.object({
  state: z.enum(["open", "all"]).default("open"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const ZAlertThresholds = z.strictObject({
  rateMultiple: z.number().min(1.5).max(1000).describe("alert when a minute's data requests exceed this multiple of the baseline"),
  rateFloor: z.number().min(1).max(1_000_000).describe("the baseline is never taken below this many requests per minute"),
  refusalMultiple: z.number().min(1.5).max(1000),
  refusalFloor: z.number().min(1).max(1_000_000).describe("refusals per minute the refusal baseline is never below"),
  learningMinutes: z.number().int().min(1).max(10_080).describe("minutes of use observed before any alert is raised"),
  resolveMinutes: z.number().int().min(1).max(1440).describe("an alert resolves after this many minutes without the anomaly"),
  newToken: z.boolean().describe("alert on a token's first use after learning"),
  newPurpose: z.boolean().describe("alert on a purpose's first use after learning"),
  offHours: z.boolean().describe("alert on use in an hour of the day the tenant has (almost) never used, once a week is learned"),
});
export type TAlertThresholds = z.infer<typeof ZAlertThresholds>;
export const ZAlertThresholdsRequest = ZAlertThresholds.partial();

// ---- audit by purpose

export const ZAuditPurposesQuery = z.object({ minutes: z.coerce.number().int().min(1).max(43_200).default(1440) });
export const ZAuditPurposes = z.object({
  from: z.string(),
  to: z.string(),
  purposes: z.array(
    z.object({
      purpose: z.string().nullable().describe("null: requests that gave none"),
      total: z.number().int(),
      success: z.number().int(),
      denied: z.number().int().describe("refused by policy (purpose_denied, outside_access_window, scope) or credentials"),
    }),
  ),
});
