// PUT /api/v1/tenants/{slug}/classes/{dataClass}/key: connects the primary key of a data class,
// validated exactly like the tenant's key (lib/broker/key-connect.ts). `default` is the tenant's
// key: that is PUT .../key (connect-key.ts) itself.
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeDataClass } from "../data-class-view";
import { connectClassPrimary, type ConnectKeyInput, type KeyConnectDeps } from "../key-connect";
import { requireClass } from "../tenant-lock";
import { requireTenant } from "../tenant-lookup";
import { DEFAULT_CLASS } from "../tenant-registry";
import { assertNotShredded } from "../views";
import { connectKey } from "./connect-key";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectClassKeyResponse } from "../../contracts/classes";

export async function connectClassKey(op: TenantOperation<KeyConnectDeps & Pick<BrokerContext, "health" | "failover">> & ConnectKeyInput & { dataClass: string }) {
  const { ctx, actor, tenant: slug, requestId, approved, dataClass, provider, keyId, serverCaPem } = op;
  authorize(actor, "key.connect", slug);
  if (dataClass === DEFAULT_CLASS) {
    const r = await connectKey({ ctx, actor, tenant: slug, requestId, approved, provider, keyId, serverCaPem });
    const view = (await ctx.registry.getBySlug(slug))!;
    return { dataClass: await describeDataClass(ctx, view, DEFAULT_CLASS), validation: r.validation };
  }
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const cls = requireClass(tenant, dataClass);
  const { view, result } = await connectClassPrimary(ctx, { actor, tenant, cls, requestId, approved, provider, keyId, serverCaPem });
  return { dataClass: await describeDataClass(ctx, view, cls.name), validation: { steps: result.steps } };
}
