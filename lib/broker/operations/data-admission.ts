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
import { checkDataPolicy, evaluateDataPolicy, type PolicyDecision } from "../governance/data-policy";
import { requireTenant } from "../tenant-lookup";
import { requireTokenScope } from "../token-scope";
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

/** What a refusal entry says about one item of the request: a single request has one, a batch one per item. */
export interface ItemRef {
  purpose?: string;
  detail?: Record<string, unknown>;
}

/**
 * Checks the caller's role, that its token is this tenant's, the tenant's state, and the
 * tenant's governance policy for this token (purpose, access windows: checkDataPolicy);
 * records refusals in the tenant's log. Batches use admitDataItems and admitItem instead.
 */
export async function admitDataRequest(ctx: AdmissionDeps, caller: Caller, slug: string, op: DataOp, requestId: string | undefined, purpose: string | undefined): Promise<Admitted> {
  const admitted = await admitDataItems(ctx, caller, slug, op, requestId, [{ purpose }]);
  const { breakGlassGrantId } = await checkDataPolicy(ctx, { tenantId: admitted.tenant.id, caller: admitted.caller, actor: admitted.actor, op, purpose, requestId });
  return { ...admitted, breakGlassGrantId };
}

/** The same admission for a request of several items (a batch): a refusal refuses them all, each with its own entry. */
export async function admitDataItems(ctx: AdmissionDeps, caller: Caller, slug: string, op: DataOp, requestId: string | undefined, items: readonly ItemRef[]): Promise<Admitted> {
  authorize(caller, op === "encrypt" ? "data.encrypt" : "data.decrypt", slug);
  const service = caller as ServiceCaller;
  const tenant = await requireTenant(ctx, slug);
  const actor = actorOf(service);
  const refusals = (outcome: AuditEntryInput["outcome"], reason: string): AuditEntryInput[] =>
    items.map((i) => ({ tenantId: tenant.id, actor, action: op, purpose: i.purpose, detail: i.detail, requestId, outcome, reason }));
  if (service.tenantId !== tenant.id) {
    await recordRefusals(ctx, refusals("denied", "token_of_another_tenant"));
    throw new BrokerError("forbidden", "this token does not belong to this tenant");
  }
  await requireTokenScope(ctx, service, op, undefined, refusals("denied", "scope_denied"));
  if (tenant.shreddedAt) {
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" }, items.length);
    await recordRefusals(ctx, refusals("denied", "tenant_shredded"));
    throw shreddedError(tenant);
  }
  if (tenant.state === "locked") {
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" }, items.length);
    await recordRefusals(ctx, refusals("locked", tenant.lockReason ?? "locked"));
    ctx.locks.assertNotLocked(tenant);
  }
  if (!tenant.key || tenant.state === "pending") {
    await recordRefusals(ctx, refusals("denied", "tenant_not_ready"));
    throw new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
  }
  return { tenant, caller: service, actor, breakGlassGrantId: null };
}

/**
 * The checks that depend on one item of a batch (its purpose) rather than on the request: the
 * token's governance policy, evaluated without auditing, since the batch writes the item's
 * refusal in its own group commit. A refusal is thrown as a PolicyRefusal (purpose_denied,
 * outside_access_window), which the batch answers in that item's result.
 */
export function admitItem(ctx: AdmissionDeps, admitted: Admitted, op: DataOp, item: { purpose?: string }, requestId: string | undefined): Promise<PolicyDecision> {
  return evaluateDataPolicy(ctx, { tenantId: admitted.tenant.id, caller: admitted.caller, actor: admitted.actor, op, purpose: item.purpose, requestId });
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

/** Several entries in one group commit (a batch's items). */
export async function recordRefusals(ctx: Pick<BrokerContext, "audit">, entries: readonly AuditEntryInput[]): Promise<void> {
  await (entries.length === 1 ? ctx.audit.record(entries[0]!) : ctx.audit.recordAll(entries)).catch((e) => {
    throw auditFailure(e);
  });
}

type Refusals = (RefusalEntry & { action: DataOp }) | ReadonlyArray<RefusalEntry & { action: DataOp }>;

/** Runs a DEK lookup and turns KMS and lock failures into the API's errors, auditing the refusal (one entry per item). */
export async function withDataKey<T>(ctx: DataDeps, tenant: TenantView, refusal: Refusals, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw await dataKeyFailure(ctx, tenant, refusal, e);
  }
}

/** The API's error for a failed DEK lookup, once its refusal entries are recorded. */
export async function dataKeyFailure(ctx: DataDeps, tenant: TenantView, refusal: Refusals, e: unknown): Promise<unknown> {
  const list = Array.isArray(refusal) ? (refusal as ReadonlyArray<RefusalEntry & { action: DataOp }>) : [refusal as RefusalEntry & { action: DataOp }];
  const op = list[0]?.action ?? "decrypt";
  const record = (outcome: AuditEntryInput["outcome"], reason: string) => recordRefusals(ctx, list.map((r) => ({ ...r, outcome, reason })));
  // Shredded while this request was in flight: its DEK is gone (or may not be stored any more).
  const now = e instanceof BrokerError || isShreddedTenantWrite(e) || e instanceof TenantDroppedError ? await ctx.registry.load({ id: tenant.id }) : null;
  if (isShreddedTenantWrite(e) || now?.shreddedAt) {
    const shredded = now ?? tenant;
    await record("denied", "tenant_shredded");
    return shreddedError(shredded.shreddedAt ? shredded : { ...shredded, shreddedAt: new Date() });
  }
  if (e instanceof TenantDroppedError || (isKmsError(e) && e.kind === "revoked")) {
    const fresh = (await ctx.registry.getById(tenant.id)) ?? tenant;
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "miss" }, list.length);
    return lockedRefusal(ctx, fresh, list);
  }
  if (isKmsError(e) && e.kind === "unavailable") {
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "unavailable", cache: "miss" }, list.length);
    await record("unavailable", e.detail.providerCode ?? "kms_unavailable");
    return new BrokerError("kms_unavailable", `the tenant's KMS is unreachable right now (${e.detail.providerCode ?? "unavailable"}); retry later`, {}, e.detail.retryAfterSeconds ?? KMS_RETRY_AFTER_S);
  }
  if (isKmsError(e) && e.kind === "invalid") {
    await record("invalid", "kms_invalid");
    return new BrokerError("invalid_ciphertext", "the stored data key could not be unwrapped for this tenant");
  }
  if (e instanceof BrokerError && e.code === "invalid_ciphertext") {
    // A well-formed header naming a DEK this tenant does not have (forged or from a deleted tenant).
    await record("invalid", "unknown_dek");
    return e;
  }
  if (e instanceof AuditUnavailableError) return auditFailure(e);
  return e;
}

/** A request refused because the tenant is (or just became) locked: recorded like every refusal (one entry per item), then 423. */
export async function lockedRefusal(ctx: Pick<BrokerContext, "audit">, tenant: TenantView, refusal: RefusalEntry | readonly RefusalEntry[]): Promise<BrokerError> {
  const list: readonly RefusalEntry[] = Array.isArray(refusal) ? refusal : [refusal as RefusalEntry];
  await recordRefusals(ctx, list.map((r) => ({ ...r, outcome: "locked", reason: tenant.lockReason ?? "locked" })));
  return lockedError(tenant);
}
