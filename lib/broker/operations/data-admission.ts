// The data path's shared steps: admission (role, tenant match, lock state), DEK lookup with
// its failures mapped to the API's errors, and refusals audited as the request's own entry
// (the caller's actor, request id, purpose): a 403, 423 or 503 is a failed key access and is
// recorded as carefully as a success.
import type { AuditActor, AuditEntryInput } from "../../audit/types";
import { AuditUnavailableError } from "../../audit/types";
import { actorOf, type Caller, type ServiceCaller } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { isShreddedTenantWrite } from "../../db/errors";
import { isKmsError } from "../../kms/types";
import type { BrokerContext } from "../context";
import { TenantDroppedError } from "../dek-cache";
import { BrokerError } from "../errors";
import { checkDataPolicy } from "../governance/data-policy";
import { requireTenant } from "../tenant-lookup";
import type { TenantView } from "../tenant-registry";
import { auditFailure, KMS_RETRY_AFTER_S, lockedError, shreddedError } from "../views";

/** What admission reads: the tenant (registry, fresh while the bus is down), its lock state, the audit log, metrics. */
export type AdmissionDeps = Pick<BrokerContext, "audit" | "metrics" | "locks" | "bus" | "registry" | "cache" | "governance" | "clock">;
export type DataDeps = AdmissionDeps & Pick<BrokerContext, "keys">;
export type DataOp = "encrypt" | "decrypt";

/** A data request's audit entry minus its outcome (and reason), filled in when it is refused. */
export type RefusalEntry = Omit<AuditEntryInput, "outcome">;

export interface Admitted {
  tenant: TenantView;
  caller: ServiceCaller;
  actor: AuditActor;
  /** The break-glass grant that let the request in outside its token's access windows, if any. */
  breakGlassGrantId: string | null;
}

/**
 * Checks the caller's role, that its token is this tenant's, the tenant's state, and the
 * tenant's governance policy for this token (purpose, access windows: checkDataPolicy, which
 * batch operations call per item, admitting the batch itself with `checkPolicy: false`);
 * records refusals in the tenant's log.
 */
export async function admitDataRequest(
  ctx: AdmissionDeps,
  caller: Caller,
  slug: string,
  op: DataOp,
  requestId: string | undefined,
  purpose: string | undefined,
  opts: { checkPolicy?: boolean } = {},
): Promise<Admitted> {
  authorize(caller, op === "encrypt" ? "data.encrypt" : "data.decrypt", slug);
  const service = caller as ServiceCaller;
  const tenant = await requireTenant(ctx, slug);
  const actor = actorOf(service);
  if (service.tenantId !== tenant.id) {
    await recordRefusal(ctx, { tenantId: tenant.id, actor, action: op, purpose, requestId, outcome: "denied", reason: "token_of_another_tenant" });
    throw new BrokerError("forbidden", "this token does not belong to this tenant");
  }
  if (tenant.shreddedAt) {
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" });
    await recordRefusal(ctx, { tenantId: tenant.id, actor, action: op, purpose, requestId, outcome: "denied", reason: "tenant_shredded" });
    throw shreddedError(tenant);
  }
  if (tenant.state === "locked") {
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" });
    await recordRefusal(ctx, { tenantId: tenant.id, actor, action: op, purpose, requestId, outcome: "locked", reason: tenant.lockReason ?? "locked" });
    ctx.locks.assertNotLocked(tenant);
  }
  if (!tenant.key || tenant.state === "pending") {
    await recordRefusal(ctx, { tenantId: tenant.id, actor, action: op, purpose, requestId, outcome: "denied", reason: "tenant_not_ready" });
    throw new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
  }
  if (opts.checkPolicy === false) return { tenant, caller: service, actor, breakGlassGrantId: null };
  const { breakGlassGrantId } = await checkDataPolicy(ctx, { tenantId: tenant.id, caller: service, actor, op, purpose, requestId });
  return { tenant, caller: service, actor, breakGlassGrantId };
}

/** A success entry's reason when a break-glass exception admitted it: the grant it used. */
export function exceptionReason(breakGlassGrantId: string | null): string | undefined {
  return breakGlassGrantId ? `break_glass:${breakGlassGrantId}` : undefined;
}

export async function recordRefusal(ctx: Pick<BrokerContext, "audit">, entry: AuditEntryInput): Promise<void> {
  await ctx.audit.record(entry).catch((e) => {
    throw auditFailure(e);
  });
}

/** Runs a DEK lookup and turns KMS and lock failures into the API's errors, auditing the refusal. */
export async function withDataKey<T>(ctx: DataDeps, tenant: TenantView, refusal: RefusalEntry & { action: DataOp }, fn: () => Promise<T>): Promise<T> {
  const op = refusal.action;
  try {
    return await fn();
  } catch (e) {
    // Shredded while this request was in flight: its DEK is gone (or may not be stored any more).
    const now = e instanceof BrokerError || isShreddedTenantWrite(e) || e instanceof TenantDroppedError ? await ctx.registry.load({ id: tenant.id }) : null;
    if (isShreddedTenantWrite(e) || now?.shreddedAt) {
      const shredded = now ?? tenant;
      await recordRefusal(ctx, { ...refusal, outcome: "denied", reason: "tenant_shredded" });
      throw shreddedError(shredded.shreddedAt ? shredded : { ...shredded, shreddedAt: new Date() });
    }
    if (e instanceof TenantDroppedError || (isKmsError(e) && e.kind === "revoked")) {
      const fresh = (await ctx.registry.getById(tenant.id)) ?? tenant;
      ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "miss" });
      throw await lockedRefusal(ctx, fresh, refusal);
    }
    if (isKmsError(e) && e.kind === "unavailable") {
      ctx.metrics.dataRequests.inc({ operation: op, outcome: "unavailable", cache: "miss" });
      await recordRefusal(ctx, { ...refusal, outcome: "unavailable", reason: e.detail.providerCode ?? "kms_unavailable" });
      throw new BrokerError("kms_unavailable", `the tenant's KMS is unreachable right now (${e.detail.providerCode ?? "unavailable"}); retry later`, {}, e.detail.retryAfterSeconds ?? KMS_RETRY_AFTER_S);
    }
    if (isKmsError(e) && e.kind === "invalid") {
      await recordRefusal(ctx, { ...refusal, outcome: "invalid", reason: "kms_invalid" });
      throw new BrokerError("invalid_ciphertext", "the stored data key could not be unwrapped for this tenant");
    }
    if (e instanceof BrokerError && e.code === "invalid_ciphertext") {
      // A well-formed header naming a DEK this tenant does not have (forged or from a deleted tenant).
      await recordRefusal(ctx, { ...refusal, outcome: "invalid", reason: "unknown_dek" });
      throw e;
    }
    if (e instanceof AuditUnavailableError) throw auditFailure(e);
    throw e;
  }
}

/** A request refused because the tenant is (or just became) locked: recorded like every refusal, then 423. */
export async function lockedRefusal(ctx: Pick<BrokerContext, "audit">, tenant: TenantView, refusal: RefusalEntry): Promise<BrokerError> {
  await recordRefusal(ctx, { ...refusal, outcome: "locked", reason: tenant.lockReason ?? "locked" });
  return lockedError(tenant);
}
