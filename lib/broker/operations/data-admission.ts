// The data path's shared steps: admission (role, tenant match, then the data class: it exists,
// its lock scope is not locked, it has a key), DEK lookup with its failures mapped to the API's
// errors, and refusals audited as the request's own entry (the caller's actor, request id,
// purpose, detail.dataClass for a class other than `default`): a 403, 404, 423 or 503 is a
// failed key access and is recorded as carefully as a success.
import type { AuditActor, AuditEntryInput } from "../../audit/types";
import { AuditUnavailableError } from "../../audit/types";
import { actorOf, type Caller, type ServiceCaller } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { isShreddedTenantWrite } from "../../db/errors";
import { isKmsError } from "../../kms/types";
import type { BrokerContext } from "../context";
import { DataClassMismatchError } from "../data-keys";
import { TenantDroppedError } from "../dek-cache";
import { BrokerError } from "../errors";
import { checkDataPolicy, evaluateDataPolicy, type PolicyDecision } from "../governance/data-policy";
import { requireTenant } from "../tenant-lookup";
import { requireTokenScope, scopeDenied, scopeDetail, tokenAllows } from "../token-scope";
import { classById, classByName, type ClassRef, type TenantView } from "../tenant-registry";
import { auditFailure, classDetail, KMS_RETRY_AFTER_S, lockedError, notReadyError, shreddedError } from "../views";

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

/** A request admitted for one data class. */
export interface AdmittedClass extends Admitted {
  dataClass: ClassRef;
}

/** What a refusal entry says about one item of the request: a single request has one, a batch one per item. */
export interface ItemRef {
  purpose?: string;
  detail?: Record<string, unknown>;
}

/**
 * Which data class a request is for. Encrypt names it (`dataClass`, undefined: `default`);
 * decrypt takes it from the ciphertext's header (format 1: `default`), or null when the header
 * is unreadable or another tenant's (the request is refused as invalid after admission; its
 * lock check is the `default` class's, as before classes).
 */
export type ClassSelector = { name: string | undefined } | { header: { tenantId: string; classId: string | null } | null };

/** A refusal by the class step, with the outcome and reason its audit entry records. */
export class ClassRefusal extends BrokerError {
  constructor(
    error: BrokerError,
    readonly outcome: AuditEntryInput["outcome"],
    readonly reason: string,
  ) {
    super(error.code, error.message, error.extra, error.retryAfterSeconds);
  }
}

function resolveClass(tenant: TenantView, selector: ClassSelector): ClassRef {
  if ("name" in selector) {
    const ref = classByName(tenant, selector.name);
    if (!ref) throw new ClassRefusal(new BrokerError("not_found", `tenant has no data class '${selector.name}'`), "denied", "unknown_data_class");
    return ref;
  }
  const h = selector.header;
  if (!h || h.tenantId !== tenant.id) return classByName(tenant, undefined)!;
  const ref = classById(tenant, h.classId);
  if (!ref) throw new ClassRefusal(new BrokerError("invalid_ciphertext", "ciphertext names a data class this tenant does not have"), "invalid", "unknown_data_class");
  return ref;
}

/**
 * The class step of admission, once the tenant checks passed: the one place where a request's
 * operation and data class are both known. Throws a BrokerError (a ClassRefusal for its own
 * refusals); it audits nothing (admitClassAudited and the batches do).
 */
export function admitClass(admitted: Admitted, op: DataOp, selector: ClassSelector): ClassRef {
  const { tenant } = admitted;
  const dataClass = resolveClass(tenant, selector);
  // The caller against `op` and `dataClass` (a token's scope), before the class's lock state: a
  // caller must not learn the state of a class it may not use.
  if (!tokenAllows(admitted.caller, op, dataClass.name)) throw scopeDenied(admitted.caller, op, dataClass.name);
  const scope = dataClass.scope;
  if (scope.state === "locked") throw new ClassRefusal(lockedError(tenant, dataClass), "locked", scope.lockReason ?? "locked");
  if (!scope.key || scope.state === "pending") throw new ClassRefusal(notReadyError(dataClass), "denied", "tenant_not_ready");
  return dataClass;
}

/** How a refusal of the class step is audited: its own outcome and reason, or (any other BrokerError, e.g. scope_denied) denied with its code. */
export function classRefusalEntry(e: BrokerError): { outcome: AuditEntryInput["outcome"]; reason: string } {
  return e instanceof ClassRefusal ? { outcome: e.outcome, reason: e.reason } : { outcome: "denied", reason: e.code };
}

/** admitClass for a single request (or stream): its refusal recorded as the request's entry, and counted. */
export async function admitClassAudited(ctx: AdmissionDeps, admitted: Admitted, op: DataOp, selector: ClassSelector, item: RefusalEntry): Promise<ClassRef> {
  try {
    return admitClass(admitted, op, selector);
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
    const { outcome, reason } = classRefusalEntry(e);
    if (outcome === "locked") ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" });
    const named = "name" in selector && selector.name !== undefined ? { ...item.detail, dataClass: selector.name } : item.detail;
    // scope_denied names `default` to the caller; the audit entry, like every `default` entry, does not.
    const detail = typeof e.extra.dataClass === "string" ? scopeDetail(e.extra.dataClass, item.detail) : named;
    await recordRefusal(ctx, { ...item, detail, outcome, reason });
    throw e;
  }
}

/**
 * Checks the caller's role, that its token is this tenant's, the request's data class (exists,
 * not locked, has a key: admitClass), and the tenant's governance policy for this token
 * (purpose, access windows: checkDataPolicy); records refusals in the tenant's log. Batches
 * use admitDataItems, admitClass and admitItem instead; a stream that learns its class from its
 * header uses admitTenantRequest, then admitClassAudited.
 */
export async function admitDataRequest(
  ctx: AdmissionDeps,
  caller: Caller,
  slug: string,
  op: DataOp,
  requestId: string | undefined,
  purpose: string | undefined,
  selector: ClassSelector = { name: undefined },
): Promise<AdmittedClass> {
  const admitted = await admitDataItems(ctx, caller, slug, op, requestId, () => [{ purpose }]);
  const entry = { tenantId: admitted.tenant.id, actor: admitted.actor, action: op, purpose, requestId };
  const dataClass = await admitClassAudited(ctx, admitted, op, selector, entry);
  const { breakGlassGrantId } = await checkDataPolicy(ctx, { tenantId: admitted.tenant.id, caller: admitted.caller, actor: admitted.actor, op, purpose, requestId });
  return { ...admitted, breakGlassGrantId, dataClass };
}

/** The tenant checks and the policy of admitDataRequest, for a request whose class is only known later (a stream's header). */
export async function admitTenantRequest(ctx: AdmissionDeps, caller: Caller, slug: string, op: DataOp, requestId: string | undefined, purpose: string | undefined): Promise<Admitted> {
  const admitted = await admitDataItems(ctx, caller, slug, op, requestId, () => [{ purpose }]);
  const { breakGlassGrantId } = await checkDataPolicy(ctx, { tenantId: admitted.tenant.id, caller: admitted.caller, actor: admitted.actor, op, purpose, requestId });
  return { ...admitted, breakGlassGrantId };
}

/**
 * The tenant checks for a request of several items (a batch): role, a token of this tenant, not
 * shredded; a refusal refuses them all, each with its own entry. Each item's class is then
 * admitted with admitClass.
 */
export async function admitDataItems(ctx: AdmissionDeps, caller: Caller, slug: string, op: DataOp, requestId: string | undefined, itemsOf: () => readonly ItemRef[]): Promise<Admitted> {
  authorize(caller, op === "encrypt" ? "data.encrypt" : "data.decrypt", slug);
  const service = caller as ServiceCaller;
  const tenant = await requireTenant(ctx, slug);
  const actor = actorOf(service);
  // Built only when refused: a batch of 1,000 items would otherwise allocate its refusal entries on every request.
  const refusals = (outcome: AuditEntryInput["outcome"], reason: string): AuditEntryInput[] =>
    itemsOf().map((i) => ({ tenantId: tenant.id, actor, action: op, purpose: i.purpose, detail: i.detail, requestId, outcome, reason }));
  if (service.tenantId !== tenant.id) {
    await recordRefusals(ctx, refusals("denied", "token_of_another_tenant"));
    throw new BrokerError("forbidden", "this token does not belong to this tenant");
  }
  await requireTokenScope(ctx, service, op, undefined, () => refusals("denied", "scope_denied"));
  if (tenant.shreddedAt) {
    const entries = refusals("denied", "tenant_shredded");
    ctx.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" }, entries.length);
    await recordRefusals(ctx, entries);
    throw shreddedError(tenant);
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

/**
 * Runs a DEK lookup of `dataClass` (default: `default`) and turns KMS and lock failures into the
 * API's errors, auditing the refusal (one entry per item).
 */
export async function withDataKey<T>(ctx: DataDeps, tenant: TenantView, refusal: Refusals, fn: () => Promise<T>, dataClass?: ClassRef): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw await dataKeyFailure(ctx, tenant, refusal, e, dataClass);
  }
}

/** The API's error for a failed DEK lookup (of `dataClass`, default `default`), once its refusal entries are recorded. */
export async function dataKeyFailure(ctx: DataDeps, tenant: TenantView, refusal: Refusals, e: unknown, dataClass?: ClassRef): Promise<unknown> {
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
    return lockedRefusal(ctx, fresh, list, dataClass && (classById(fresh, dataClass.id) ?? dataClass));
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
  if (e instanceof DataClassMismatchError) {
    // The header names one class, the DEK serves another: the request's checks were for the wrong scope.
    await record("invalid", "data_class_mismatch");
    return e;
  }
  if (e instanceof BrokerError && e.code === "invalid_ciphertext") {
    // A well-formed header naming a DEK this tenant does not have (forged or from a deleted tenant).
    await record("invalid", "unknown_dek");
    return e;
  }
  if (e instanceof AuditUnavailableError) return auditFailure(e);
  return e;
}

/**
 * A request refused because its class (default: `default`, the tenant) is (or just became)
 * locked: recorded like every refusal (one entry per item), then 423 naming the class.
 */
export async function lockedRefusal(ctx: Pick<BrokerContext, "audit">, tenant: TenantView, refusal: RefusalEntry | readonly RefusalEntry[], dataClass?: ClassRef): Promise<BrokerError> {
  const list: readonly RefusalEntry[] = Array.isArray(refusal) ? refusal : [refusal as RefusalEntry];
  const reason = (dataClass?.scope ?? tenant).lockReason ?? "locked";
  await recordRefusals(ctx, list.map((r) => ({ ...r, outcome: "locked", reason })));
  return lockedError(tenant, dataClass);
}

/** The entry fields of a request of `dataClass`: `detail.dataClass` for a class other than `default`. */
export function classFields(dataClass: ClassRef, detail?: Record<string, unknown>): { detail?: Record<string, unknown> } {
  const d = classDetail(dataClass, detail);
  return d ? { detail: d } : {};
}
