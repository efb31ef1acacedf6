// GET /api/v1/tenants/{slug}/break-glass: the tenant's break-glass grants, latest first, with
// whether each is in force now. Also the shape and audit step grant and revoke share.
import type { AuditActor } from "../../audit/types";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZBreakGlassList } from "../../contracts/governance";

interface GrantRow {
  id: string;
  tokenId: string | null;
  reason: string;
  grantedBy: string;
  startsAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export function breakGlassView(g: GrantRow, now: number) {
  return {
    id: g.id,
    tokenId: g.tokenId,
    reason: g.reason,
    grantedBy: g.grantedBy,
    startsAt: g.startsAt.toISOString(),
    expiresAt: g.expiresAt.toISOString(),
    revokedAt: g.revokedAt?.toISOString() ?? null,
    active: !g.revokedAt && g.startsAt.getTime() <= now && now < g.expiresAt.getTime(),
  };
}

/** Audits a grant or revocation and tells every instance (their cached views drop the old grants). */
export async function publishBreakGlass(
  ctx: Pick<BrokerContext, "audit" | "bus" | "governance">,
  tenantId: string,
  actor: AuditActor,
  requestId: string | undefined,
  g: GrantRow,
  change: "granted" | "revoked",
) {
  ctx.governance.invalidate(tenantId);
  await ctx.audit.record({
    tenantId,
    actor,
    action: "governance.break_glass",
    outcome: "success",
    requestId,
    reason: g.reason,
    detail: { grantId: g.id, tokenId: g.tokenId, reason: g.reason, startsAt: g.startsAt.toISOString(), expiresAt: g.expiresAt.toISOString(), change },
  });
  await ctx.bus.publish({ type: "governance_changed", tenantId });
}

export async function listBreakGlass({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache" | "clock">>) {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  const rows = await ctx.db.prisma.breakGlassGrant.findMany({ where: { tenantId: tenant.id }, orderBy: { createdAt: "desc" }, take: 200 });
  const now = ctx.clock();
  return { grants: rows.map((g) => breakGlassView(g, now)) };
}
