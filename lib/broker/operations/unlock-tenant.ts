// POST /api/v1/tenants/{slug}/unlock: re-validates the key with a real round trip; only then is
// the tenant active again.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { approvalGate } from "../governance/approval-gate";
import { validateKeyRoundTrip } from "../key-validation";
import { requireTenant } from "../tenant-lookup";
import { assertNotShredded, describeTenant, failureReason, validationError } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectKeyResponse } from "../../contracts/requests";

export async function unlockTenant({ ctx, actor, tenant: slug, requestId, approved }: TenantOperation<Pick<BrokerContext, "kms" | "audit" | "locks" | "bus" | "registry" | "cache" | "db" | "clock">>) {
  authorize(actor, "tenant.unlock", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  if (!tenant.key) throw new BrokerError("tenant_not_ready", "tenant has no key to validate; connect one first");
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "tenant.unlock", params: {} });
  const who = actorOf(actor);
  const result = await validateKeyRoundTrip(ctx.kms, tenant.id, { provider: tenant.key.provider, keyRef: tenant.key.keyRef }, who, { lockOnRevoked: false, requestId });
  if (!result.ok) {
    await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "tenant.unlock", outcome: result.unavailable ? "unavailable" : "denied", requestId, reason: failureReason(result) });
    throw validationError(result);
  }
  const view = await ctx.locks.markActive(tenant, "admin", who, requestId);
  return { tenant: describeTenant(view), validation: { steps: result.steps } };
}
