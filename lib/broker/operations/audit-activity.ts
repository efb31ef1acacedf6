// GET /api/v1/tenants/{slug}/audit/activity: audit events per minute and outcome, zero-filled.
import { tenantAuditActivity } from "../../audit/aggregate";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditActivity } from "../../contracts/audit";
export { ZAuditActivityQuery } from "../../contracts/route-requests";

export async function auditActivity({ ctx, actor, tenant: slug, minutes }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { minutes: number }) {
  authorize(actor, "audit.read", slug);
  const t = await requireTenant(ctx, slug);
  return tenantAuditActivity(ctx.db, t.id, { minutes });
}
