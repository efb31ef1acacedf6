// PUT /api/v1/tenants/{slug}/time-zone: the IANA zone access windows and usual hours are read in.
// Validated with Intl (the runtime's time zone database): an unknown zone is a 400.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { isValidTimeZone } from "../governance/access-windows";
import { approvalGate } from "../governance/approval-gate";
import { publishGovernanceChange } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTimeZone, ZTimeZoneRequest } from "../../contracts/governance";

export async function setTimeZone({ ctx, actor, tenant: slug, requestId, approved, timeZone }: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & { timeZone: string }) {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  if (!isValidTimeZone(timeZone)) throw new BrokerError("invalid_request", `"${timeZone}" is not an IANA time zone this broker knows (e.g. Europe/Paris, America/New_York, UTC)`);
  // The canonical spelling (Intl resolves "europe/paris" to "Europe/Paris").
  const zone = new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.policy", params: { resource: "time_zone", timeZone: zone } });
  await ctx.db.prisma.tenantGovernance.upsert({ where: { tenantId: tenant.id }, create: { tenantId: tenant.id, timeZone: zone }, update: { timeZone: zone, updatedAt: new Date() } });
  await publishGovernanceChange(ctx, { tenantId: tenant.id, actor: actorOf(actor), requestId, resource: "time_zone", tokenId: null, value: zone });
  return { timeZone: zone };
}
