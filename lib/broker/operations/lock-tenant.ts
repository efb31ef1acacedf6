// POST /api/v1/tenants/{slug}/lock: the kill switch, on every instance, until an explicit unlock.
// With `dataClass`, that class only (the others keep serving); without, every class of the tenant.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeClassStates } from "../data-class-view";
import { requireClass } from "../tenant-lock";
import { requireTenant } from "../tenant-lookup";
import { allClasses } from "../tenant-registry";
import { describeTenant } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZTenantResponse } from "../../contracts/requests";
export { ZClassLockRequest as ZLockRequest } from "../../contracts/classes";

export async function lockTenant({
  ctx,
  actor,
  tenant: slug,
  requestId,
  reason,
  dataClass,
}: TenantOperation<Pick<BrokerContext, "locks" | "bus" | "registry" | "cache">> & { reason: string; dataClass?: string }) {
  authorize(actor, "tenant.lock", slug);
  const tenant = await requireTenant(ctx, slug);
  const names = dataClass !== undefined ? [requireClass(tenant, dataClass).name] : allClasses(tenant).map((c) => c.name);
  const input = { source: "kill_switch" as const, reason: `kill_switch: ${reason}`, actor: actorOf(actor), requestId };
  const outcomes = [];
  // One class after the other, `default` first: each lock is durable and broadcast before the next.
  for (const name of names) outcomes.push(await ctx.locks.lock(tenant, { ...input, dataClass: name }));
  const fanout = Promise.all(outcomes.map((o) => o.fanout)).then((ms) => (ms.every((m) => m === null) ? null : Math.max(...ms.map((m) => m ?? 0))));
  const view = ctx.registry.cached(tenant.id) ?? tenant;
  return { tenant: describeTenant(view), classes: describeClassStates(view), fanout };
}
