// GET /api/v1/tenants/{slug}/audit/export: the audit log as a stream (itself audited).
import { auditExportContentType, exportTenantAuditStream, type AuditExportFormat, type AuditQueryFilters } from "../../audit";
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { asInvalidRequest } from "./audit-errors";
import type { TenantOperation } from "./types";

export { ZAuditExportQuery } from "../../contracts/route-requests";

export async function exportAudit({
  ctx,
  actor,
  tenant: slug,
  requestId,
  format,
  filters,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache">> & { format: AuditExportFormat; filters: AuditQueryFilters }) {
  authorize(actor, "audit.export", slug);
  const t = await requireTenant(ctx, slug);
  const stream = await asInvalidRequest(() => exportTenantAuditStream(ctx.db, t.id, format, filters));
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "audit.export", outcome: "success", requestId, detail: { format } });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return { stream, contentType: auditExportContentType(format), filename: `audit-${t.slug}-${stamp}.${format}` };
}
