// DELETE /api/v1/tenants/{slug}/classes/{dataClass}: removes a class and its key connections.
// Refused (409 conflict) while the class has DEKs: removing it would make their data unreadable
// for good. `default` is the tenant itself and cannot be removed.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { requireClass } from "../tenant-lock";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";

export async function removeDataClass({ ctx, actor, tenant: slug, requestId, dataClass }: TenantOperation<Pick<BrokerContext, "db" | "audit" | "registry" | "bus" | "cache">> & { dataClass: string }) {
  authorize(actor, "class.remove", slug);
  const tenant = await requireTenant(ctx, slug);
  const cls = requireClass(tenant, dataClass);
  if (cls.id === null) throw new BrokerError("conflict", "the `default` class is the tenant itself and cannot be removed", { dataClass: cls.name });
  // One statement: a DEK created concurrently either blocks the delete or is not created (its class is gone).
  const deleted = await ctx.db.query<{ id: string }>(
    `DELETE FROM data_class dc WHERE dc.id = $1 AND dc.tenant_id = $2 AND NOT EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = $2 AND d.data_class_id = dc.id) RETURNING dc.id`,
    [cls.id, tenant.id],
  );
  if (deleted.length === 0) {
    const [n] = await ctx.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM data_key WHERE tenant_id = $1 AND data_class_id = $2`, [tenant.id, cls.id]);
    throw new BrokerError("conflict", `data class '${cls.name}' still has ${n?.n ?? "some"} data keys; removing it would make their data unreadable`, { dataClass: cls.name });
  }
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "class.remove", outcome: "success", requestId, detail: { dataClass: cls.name } });
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  await ctx.registry.load({ id: tenant.id });
}
