// GET and PUT /api/v1/tenants/{slug}/alert-thresholds: how unusual use must be to raise an alert.
// A PUT merges the members it gives over the current thresholds; applies on every instance.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { TAlertThresholds } from "../../contracts/governance";
import type { BrokerContext } from "../context";
import { thresholdsOf } from "../governance/alert-thresholds";
import { approvalGate } from "../governance/approval-gate";
import { publishGovernanceChange } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAlertThresholds, ZAlertThresholdsRequest } from "../../contracts/governance";

type Deps = Pick<BrokerContext, "db" | "bus" | "registry" | "cache">;

export async function getAlertThresholds({ ctx, actor, tenant: slug }: TenantOperation<Deps>): Promise<TAlertThresholds> {
  authorize(actor, "governance.view", slug);
  const tenant = await requireTenant(ctx, slug);
  const row = await ctx.db.prisma.tenantGovernance.findUnique({ where: { tenantId: tenant.id } });
  return thresholdsOf(row?.alertThresholds);
}

export async function setAlertThresholds({ ctx, actor, tenant: slug, requestId, approved, changes }: TenantOperation<Deps & Pick<BrokerContext, "audit" | "governance" | "clock">> & { changes: Partial<TAlertThresholds> }): Promise<TAlertThresholds> {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  const row = await ctx.db.prisma.tenantGovernance.findUnique({ where: { tenantId: tenant.id } });
  const next = { ...thresholdsOf(row?.alertThresholds), ...changes };
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.policy", params: { resource: "alert_thresholds", ...next } });
  await ctx.db.prisma.tenantGovernance.upsert({ where: { tenantId: tenant.id }, create: { tenantId: tenant.id, alertThresholds: next }, update: { alertThresholds: next, updatedAt: new Date() } });
  await publishGovernanceChange(ctx, { tenantId: tenant.id, actor: actorOf(actor), requestId, resource: "alert_thresholds", tokenId: null, value: next });
  return next;
}
