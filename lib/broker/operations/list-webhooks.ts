// GET /api/v1/tenants/{slug}/webhooks: audit webhook subscriptions (secrets are never shown again).
import { listWebhookSubscriptions } from "../../audit";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZWebhookList } from "../../contracts/audit";

export async function listWebhooks({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">>) {
  authorize(actor, "webhook.list", slug);
  const t = await requireTenant(ctx, slug);
  return { webhooks: await listWebhookSubscriptions(ctx.db, t.id) };
}
