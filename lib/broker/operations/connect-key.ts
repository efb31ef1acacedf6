// PUT /api/v1/tenants/{slug}/key: connects the tenant's key (the `default` class's primary) after
// proving a wrap + unwrap round trip; throws grant_invalid naming the failed step. The checks are
// those of every class's key (lib/broker/key-connect.ts).
import { authorize } from "../../auth/authorize";
import { connectClassPrimary, type ConnectKeyInput, type KeyConnectDeps } from "../key-connect";
import { requireTenant } from "../tenant-lookup";
import { classByName } from "../tenant-registry";
import { assertNotShredded, describeKey, describeTenant } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectKeyRequest, ZConnectKeyResponse } from "../../contracts/requests";
export type { ConnectKeyInput } from "../key-connect";

export async function connectKey({ ctx, actor, tenant: slug, requestId, approved, provider, keyId, serverCaPem }: TenantOperation<KeyConnectDeps> & ConnectKeyInput) {
  authorize(actor, "key.connect", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const { view, result } = await connectClassPrimary(ctx, { actor, tenant, cls: classByName(tenant, undefined)!, requestId, approved, provider, keyId, serverCaPem });
  return { tenant: describeTenant(view), key: describeKey(view), validation: { steps: result.steps } };
}
