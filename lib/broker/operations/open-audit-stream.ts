// GET /api/v1/tenants/{slug}/audit/stream: admits a live-feed subscriber and names the tenant to
// subscribe to; the HTTP layer owns the Server-Sent Events plumbing.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";

export async function openAuditStream({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "bus" | "registry" | "cache">>): Promise<{ tenantId: string }> {
  authorize(actor, "audit.read", slug);
  const t = await requireTenant(ctx, slug);
  return { tenantId: t.id };
}
