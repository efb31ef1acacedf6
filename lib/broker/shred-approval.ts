// The approval gate of crypto-shredding: every shred passes through `beforeShred` after the
// caller is authorized and has confirmed the tenant's slug, and before anything is destroyed.
// Today it allows every authorized request. A dual-control rule (a second approver, a waiting
// period) replaces it without touching the operation: it answers { allowed: false, reason }
// until its condition is met, and the request is refused with 403 and that reason.
import type { AuditActor } from "../audit/types";
import type { TenantView } from "./tenant-registry";

export interface ShredRequestInfo {
  tenant: TenantView;
  actor: AuditActor;
  requestId?: string;
}

export type ShredApproval = { allowed: true } | { allowed: false; reason: string };

export type ShredApprovalGate = (request: ShredRequestInfo) => Promise<ShredApproval>;

/** Single control: the authorized tenant admin's (or vendor admin's) confirmed request is enough. */
export const beforeShred: ShredApprovalGate = () => Promise.resolve({ allowed: true });
