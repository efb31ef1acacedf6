// PUT /api/v1/tenants/{slug}/tokens/{tokenId}/access-windows: the weekly windows (days and hours
// in the tenant's time zone) outside which the token is refused 403 outside_access_window;
// null lifts the restriction. Goes through the approval hook; applies on every instance at once.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import type { WeeklyWindow } from "../governance/access-windows";
import { approvalGate } from "../governance/approval-gate";
import { publishGovernanceChange, requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAccessWindows, ZAccessWindowsRequest, ZTokenParams } from "../../contracts/governance";

export async function setAccessWindows({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  tokenId,
  weekly,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & { tokenId: string; weekly: WeeklyWindow[] | null }) {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  await requireTenantToken(ctx, tenant.id, tokenId);
  const windows = weekly?.map((w) => ({ days: [...new Set(w.days)].sort(), start: w.start, end: w.end })) ?? null;
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.policy", params: { resource: "access_windows", tokenId, weekly: windows } });
  await ctx.db.query(
    `INSERT INTO token_policy (tenant_id, token_id, weekly_windows) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (token_id) DO UPDATE SET weekly_windows = EXCLUDED.weekly_windows, updated_at = CURRENT_TIMESTAMP`,
    [tenant.id, tokenId, windows === null ? null : JSON.stringify(windows)],
  );
  await publishGovernanceChange(ctx, { tenantId: tenant.id, actor: actorOf(actor), requestId, resource: "access_windows", tokenId, value: windows });
  const settings = await ctx.db.prisma.tenantGovernance.findUnique({ where: { tenantId: tenant.id } });
  return { tokenId, timeZone: settings?.timeZone ?? "UTC", weekly: windows };
}
