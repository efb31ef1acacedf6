// DELETE /api/v1/tenants/{slug}/classes/{dataClass}/secondary-key: removes a class's secondary key
// (issue 12). Its wrapped forms go with its key_connection row (data_key_wrap cascades), so the
// class is served by its primary alone again; an add_secondary job towards it is cancelled. If the
// class was locked because this secondary was revoked, removing it is how the tenant restores
// service without the secondary: the class resumes once its primary passes a real round trip.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { cancelSecondaryJobs } from "../lifecycle/secondary-forms";
import { requireTenant } from "../tenant-lookup";
import { assertNotShredded } from "../views";
import { requireClass } from "./connect-secondary-key";
import { describeDataClass } from "../data-class-view";
import type { TenantOperation } from "./types";

type Deps = Pick<BrokerContext, "audit" | "db" | "keys" | "registry" | "bus" | "cache" | "failover" | "health">;

export async function removeSecondaryKey({ ctx, actor, tenant: slug, requestId, dataClass }: TenantOperation<Deps> & { dataClass: string }) {
  authorize(actor, "class.secondary_remove", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const cls = requireClass(tenant, dataClass);
  const removed = await ctx.db.transaction(async (tx) => {
    await cancelSecondaryJobs(tx, tenant.id, cls.id);
    return tx.query<{ id: string; provider: string; key_ref: string; forms: string }>(
      `WITH gone AS (DELETE FROM key_connection s WHERE s.tenant_id = $1 AND s.role = 'secondary' AND s.data_class_id IS NOT DISTINCT FROM $2::uuid
                      RETURNING s.id, s.provider::text AS provider, s.key_ref)
       SELECT g.id, g.provider, g.key_ref, (SELECT count(*) FROM data_key_wrap w WHERE w.key_connection_id = g.id)::text AS forms FROM gone g`,
      [tenant.id, cls.id],
    );
  });
  if (removed.length === 0) throw new BrokerError("not_found", `data class '${cls.name}' has no secondary key`, { dataClass: cls.name });
  const who = actorOf(actor);
  for (const r of removed) {
    await ctx.audit.record({
      tenantId: tenant.id,
      actor: who,
      action: "secondary.remove",
      outcome: "success",
      provider: r.provider,
      keyRef: r.key_ref,
      requestId,
      detail: { dataClass: cls.name, connectionId: r.id, forms: Number(r.forms) },
    });
  }
  ctx.failover.forget(tenant.id, cls.id);
  ctx.keys.forgetTenant(tenant.id);
  const view = (await ctx.registry.load({ id: tenant.id }))!;
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  const card = await describeDataClass(ctx, view, cls.name);
  return { dataClass: card };
}
