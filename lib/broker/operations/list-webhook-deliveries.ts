// GET /api/v1/tenants/{slug}/webhooks/{id}/deliveries: the delivery log of one audit webhook.
import { listWebhookDeliveries } from "../../audit";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZWebhookDeliveries } from "../../contracts/audit";
export { ZWebhookDeliveriesQuery } from "../../contracts/route-requests";

export async function listWebhookDeliveriesOf({
  ctx,
  actor,
  tenant: slug,
  webhookId,
  limit,
}: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">> & { webhookId: string; limit: number }) {
  authorize(actor, "webhook.list", slug);
  const t = await requireTenant(ctx, slug);
  return { deliveries: await listWebhookDeliveries(ctx.db, t.id, webhookId, { limit }) };
}
