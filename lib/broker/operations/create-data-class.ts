// POST /api/v1/tenants/{slug}/classes: a new data class, pending until its key is connected
// (PUT .../classes/{class}/key). Its lock state lives in its data_class row.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeDataClass } from "../data-class-view";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import { DEFAULT_CLASS } from "../tenant-registry";
import { assertNotShredded } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZCreateDataClassRequest, ZDataClassResponse } from "../../contracts/classes";

type Deps = Pick<BrokerContext, "db" | "audit" | "registry" | "bus" | "cache" | "health" | "failover">;

export async function createDataClass({ ctx, actor, tenant: slug, requestId, name }: TenantOperation<Deps> & { name: string }) {
  authorize(actor, "class.create", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  if (name === DEFAULT_CLASS) throw new BrokerError("conflict", "the `default` class always exists", { dataClass: name });
  const rows = await ctx.db.query<{ id: string }>(
    `INSERT INTO data_class (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id`,
    [tenant.id, name],
  );
  if (rows.length === 0) throw new BrokerError("conflict", `tenant already has a data class '${name}'`, { dataClass: name });
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "class.create", outcome: "success", requestId, detail: { dataClass: name } });
  // Every instance reads the tenant fresh, with its new class.
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  const view = (await ctx.registry.load({ id: tenant.id }))!;
  return { dataClass: await describeDataClass(ctx, view, name) };
}
