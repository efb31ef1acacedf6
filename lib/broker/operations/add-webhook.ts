// POST /api/v1/tenants/{slug}/webhooks: subscribes a URL to the tenant's audit events (HMAC-signed;
// the secret is returned once).
import { createWebhookSubscription } from "../../audit";
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { asInvalidRequest } from "./audit-errors";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZWebhookCreated } from "../../contracts/audit";
export { ZWebhookCreateRequest } from "../../contracts/route-requests";

export async function addWebhook({
  ctx,
  actor,
  tenant: slug,
  requestId,
  url,
  allowPrivate,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache">> & { url: string; allowPrivate: boolean }) {
  authorize(actor, "webhook.create", slug);
  const t = await requireTenant(ctx, slug);
  const created = await asInvalidRequest(() => createWebhookSubscription(ctx.db, t.id, url, { allowPrivate }));
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "webhook.create", outcome: "success", requestId, detail: { webhookId: created.subscription.id, url } });
  return { webhook: created.subscription, secret: created.secret };
}
