// GET /api/v1/tenants/{slug}/status: lock state, since when and why, key health, and the
// time-to-lock of the last lock (all of the `default` class, the tenant itself), and every data
// class's lock state. Service tokens of the tenant may read it too.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import { describeDeletionWindow } from "../deletion-window";
import { describeClassStates } from "../data-class-view";
import { describeLastLock } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZStatusResponse } from "../../contracts/status";

export async function tenantStatus({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "health" | "bus" | "registry" | "cache">>) {
  authorize(actor, "status.read", slug);
  const t = await requireTenant(ctx, slug);
  // A service token of another tenant learns nothing but 403 (the tenant's existence is not secret to it: its URL named it).
  authorize(actor, "status.read", { slug, id: t.id });
  return {
    state: t.state,
    since: t.stateSince.toISOString(),
    reason: t.lockReason,
    lockSource: t.lockSource,
    health: ctx.health.snapshot(t.id),
    lastLock: await describeLastLock(ctx.db, t.id),
    deletion: await describeDeletionWindow(ctx, t),
    shreddedAt: t.shreddedAt?.toISOString() ?? null,
    classes: describeClassStates(t),
  };
}
export type TenantStatusResult = Awaited<ReturnType<typeof tenantStatus>>;
