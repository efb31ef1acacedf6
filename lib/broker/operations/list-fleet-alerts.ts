// GET /api/v1/fleet/alerts: every tenant's open alerts on unusual key use, for the vendor-ops fleet view.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { alertView } from "./list-alerts";
import type { OperationBase } from "./types";
// The response schema of this operation's route (lib/contracts).
export { ZAlertList } from "../../contracts/governance";

export async function listFleetAlerts({ ctx, actor }: OperationBase<Pick<BrokerContext, "db">>) {
  authorize(actor, "fleet.view");
  const rows = await ctx.db.prisma.usageAlert.findMany({ where: { resolvedAt: null }, orderBy: { raisedAt: "desc" }, take: 500, include: { tenant: { select: { slug: true } } } });
  return { alerts: rows.map((r) => alertView(r, r.tenant.slug)) };
}
