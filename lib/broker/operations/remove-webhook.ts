// DELETE /api/v1/tenants/{slug}/webhooks/{id}: removes an audit webhook.
import { deleteWebhookSubscription } from "../../audit";
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";

export async function removeWebhook({ ctx, actor, tenant: slug, requestId, webhookId }: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache">> & { webhookId: string }): Promise<void> {
  authorize(actor, "webhook.delete", slug);
  const t = await requireTenant(ctx, slug);
  if (!(await deleteWebhookSubscription(ctx.db, t.id, webhookId))) throw new BrokerError("not_found", "no such webhook for this tenant");
  await ctx.audit.record({ tenantId: t.id, actor: actorOf(actor), action: "webhook.delete", outcome: "success", requestId, detail: { webhookId } });
}
