// POST /api/v1/tenants/{slug}/break-glass: a tenant admin's time-bounded exception to the access
// windows, with a reason, for one token or all of them. Starts now (on the broker's clock), ends
// after durationMinutes (at most 24 h); audited as governance.break_glass; goes through the
// approval hook, which is where a quorum will hold it until approved.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { approvalGate } from "../governance/approval-gate";
import { requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import { breakGlassView, publishBreakGlass } from "./list-break-glass";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZBreakGlassGrant, ZBreakGlassRequest } from "../../contracts/governance";

export interface BreakGlassInput {
  tokenId: string | null;
  reason: string;
  durationMinutes: number;
}

export async function grantBreakGlass({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  tokenId,
  reason,
  durationMinutes,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & BreakGlassInput) {
  authorize(actor, "governance.break_glass", slug);
  const tenant = await requireTenant(ctx, slug);
  if (tokenId) await requireTenantToken(ctx, tenant.id, tokenId);
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.break_glass", params: { tokenId, reason, durationMinutes } });
  const now = ctx.clock();
  const who = actorOf(actor);
  const g = await ctx.db.prisma.breakGlassGrant.create({
    data: { tenantId: tenant.id, tokenId, reason, grantedBy: who.name ?? who.type, startsAt: new Date(now), expiresAt: new Date(now + durationMinutes * 60_000) },
  });
  await publishBreakGlass(ctx, tenant.id, who, requestId, g, "granted");
  return breakGlassView(g, now);
}
