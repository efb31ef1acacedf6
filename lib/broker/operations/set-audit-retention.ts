// PUT /api/v1/tenants/{slug}/audit/retention: keep audit events this many days (null: forever).
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { approvalGate } from "../governance/approval-gate";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditRetention } from "../../contracts/audit";
export { ZAuditRetentionRequest } from "../../contracts/route-requests";

export async function setAuditRetention({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  days,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "clock">> & { days: number | null }) {
  authorize(actor, "audit.retention", slug);
  const t = await requireTenant(ctx, slug);
  await approvalGate(ctx, { actor, approved, requestId, tenantId: t.id, action: "audit.retention", params: { days } });
  await ctx.db.prisma.tenant.update({ where: { id: t.id }, data: { retentionDays: days } });
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "tenant.settings", outcome: "success", requestId, detail: { retentionDays: days } });
  return { retentionDays: days };
}
