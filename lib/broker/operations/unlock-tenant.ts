// POST /api/v1/tenants/{slug}/unlock: re-validates the key with a real round trip; only then is
// the class active again. With `dataClass`, that class; without, every class of the tenant: each
// locked class's key is re-validated first, and nothing is unlocked unless all of them pass.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { describeClassStates } from "../data-class-view";
import { BrokerError } from "../errors";
import { approvalGate } from "../governance/approval-gate";
import { validateKeyRoundTrip, type ValidationStep } from "../key-validation";
import { classDetail, requireClass } from "../tenant-lock";
import { requireTenant } from "../tenant-lookup";
import { allClasses, type ClassRef } from "../tenant-registry";
import { assertNotShredded, describeTenant, failureReason, validationError } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectKeyResponse } from "../../contracts/requests";
export { ZUnlockRequest } from "../../contracts/classes";

export async function unlockTenant({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  dataClass,
}: TenantOperation<Pick<BrokerContext, "kms" | "audit" | "locks" | "bus" | "registry" | "cache" | "db" | "clock">> & { dataClass?: string }) {
  authorize(actor, "tenant.unlock", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const one = dataClass !== undefined ? requireClass(tenant, dataClass) : null;
  if (one ? !one.scope.key : !tenant.key) {
    throw new BrokerError("tenant_not_ready", one && one.id !== null ? `data class '${one.name}' has no key to validate; connect one first` : "tenant has no key to validate; connect one first", one ? { dataClass: one.name } : {});
  }
  const params = one && one.id !== null ? { dataClass: one.name } : {};
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "tenant.unlock", params });
  const who = actorOf(actor);
  // Which scopes to re-validate: the one named; else default (as always) and every other locked class.
  const classes: ClassRef[] = one ? [one] : allClasses(tenant).filter((c) => c.id === null || c.scope.state === "locked");
  const steps: ValidationStep[] = [];
  for (const cls of classes) {
    const key = cls.scope.key;
    // A class locked before its key was connected has nothing to validate: it goes back to pending.
    if (!key) continue;
    const result = await validateKeyRoundTrip(ctx.kms, tenant.id, { provider: key.provider, keyRef: key.keyRef, dataClassId: cls.id }, who, { lockOnRevoked: false, requestId });
    if (!result.ok) {
      await ctx.audit.record({
        tenantId: tenant.id,
        actor: who,
        action: "tenant.unlock",
        outcome: result.unavailable ? "unavailable" : "denied",
        requestId,
        reason: failureReason(result),
        ...(cls.id === null ? {} : { detail: classDetail(cls) }),
      });
      const err = validationError(result);
      if (cls.id !== null) {
        err.message = `data class '${cls.name}': ${err.message}`;
        Object.assign(err.extra, { dataClass: cls.name });
      }
      throw err;
    }
    if (cls.id === null || one) steps.push(...result.steps);
  }
  for (const cls of classes) await ctx.locks.markActive(tenant, "admin", who, requestId, undefined, cls.name);
  const view = ctx.registry.cached(tenant.id) ?? tenant;
  return { tenant: describeTenant(view), classes: describeClassStates(view), validation: { steps } };
}
