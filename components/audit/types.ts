// Response shapes of the audit endpoints, derived from the API's response schemas (type-only).
import type { z } from "zod";
import type { ZAuditActivity, ZAuditEvent, ZAuditPage, ZAuditVerifyResult } from "@/lib/http/schemas/audit";

/** One audit entry; `detail` depends on `action`. */
export type AuditEvent = z.infer<typeof ZAuditEvent>;
export type AuditPage = z.infer<typeof ZAuditPage>;
export type AuditActivity = z.infer<typeof ZAuditActivity>;
export type AuditVerifyResult = z.infer<typeof ZAuditVerifyResult>;
