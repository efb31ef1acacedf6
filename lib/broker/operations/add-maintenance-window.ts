// POST /api/v1/tenants/{slug}/maintenance-windows: a one-off window in which window-restricted
// tokens (one, or all of the tenant's) may be used. Goes through the approval hook.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { approvalGate } from "../governance/approval-gate";
import { publishGovernanceChange, requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZMaintenanceWindow, ZMaintenanceWindowRequest } from "../../contracts/governance";

export interface MaintenanceWindowInput {
  tokenId: string | null;
  startsAt: string;
  endsAt: string;
  note: string;
}

export async function addMaintenanceWindow({ ctx, actor, tenant: slug, requestId, approved, tokenId, startsAt, endsAt, note }: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & MaintenanceWindowInput) {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  if (tokenId) await requireTenantToken(ctx, tenant.id, tokenId);
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.policy", params: { resource: "maintenance_window", tokenId, startsAt, endsAt, note } });
  const w = await ctx.db.prisma.maintenanceWindow.create({ data: { tenantId: tenant.id, tokenId, startsAt: new Date(startsAt), endsAt: new Date(endsAt), note } });
  const view = { id: w.id, tokenId: w.tokenId, startsAt: w.startsAt.toISOString(), endsAt: w.endsAt.toISOString(), note: w.note, createdAt: w.createdAt.toISOString() };
  await publishGovernanceChange(ctx, {
    tenantId: tenant.id,
    actor: actorOf(actor),
    requestId,
    resource: "maintenance_window",
    tokenId,
    value: { id: w.id, startsAt: view.startsAt, endsAt: view.endsAt, note },
  });
  return view;
}
