// What every governance change does after its write: the audit entry, then the notification
// that makes every instance drop its cached view (lib/broker/governance/policy-store.ts), so the
// change applies cluster-wide within milliseconds; this instance drops its own at once.
import type { AuditActor } from "../../audit/types";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";

export type ChangeDeps = Pick<BrokerContext, "audit" | "bus" | "governance">;

export type PolicyResource = "purpose_policy" | "access_windows" | "time_zone" | "purpose_code" | "maintenance_window" | "alert_thresholds";

export async function publishGovernanceChange(
  ctx: ChangeDeps,
  change: { tenantId: string; actor: AuditActor; requestId?: string; resource: PolicyResource; tokenId: string | null; value: unknown },
): Promise<void> {
  ctx.governance.invalidate(change.tenantId);
  await ctx.audit.record({
    tenantId: change.tenantId,
    actor: change.actor,
    action: "governance.policy",
    outcome: "success",
    requestId: change.requestId,
    detail: { resource: change.resource, tokenId: change.tokenId, change: JSON.stringify(change.value) },
  });
  await ctx.bus.publish({ type: "governance_changed", tenantId: change.tenantId });
}

/** The token, if it is this tenant's (a token of another tenant is not found, as if it did not exist). */
export async function requireTenantToken(ctx: Pick<BrokerContext, "db">, tenantId: string, tokenId: string): Promise<{ id: string; name: string }> {
  const t = await ctx.db.prisma.serviceToken.findFirst({ where: { id: tokenId, tenantId }, select: { id: true, name: true } });
  if (!t) throw new BrokerError("not_found", `no token ${tokenId} in this tenant`);
  return t;
}
