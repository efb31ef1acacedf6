// GET /api/v1/tenants/{slug}/audit: audit events, newest first, with filters and a cursor.
import { listAuditEvents, type AuditQueryFilters } from "../../audit";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { asInvalidRequest } from "./audit-errors";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditPage } from "../../contracts/audit";
export { ZAuditFilters, ZAuditListQuery, type TAuditFilters } from "../../contracts/route-requests";

export async function listAudit({
  ctx,
  actor,
  tenant: slug,
  filters,
  limit,
  cursor,
}: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { filters: AuditQueryFilters; limit: number; cursor: string | null }) {
  authorize(actor, "audit.read", slug);
  const t = await requireTenant(ctx, slug);
  return asInvalidRequest(() => listAuditEvents(ctx.db, t.id, filters, { limit, cursor }));
}
