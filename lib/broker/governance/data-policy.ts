// The one governance check of a data request (or of one item of a batch): the token's purpose
// policy, then its access windows (with maintenance windows and break-glass exceptions). Called
// by admitDataRequest (lib/broker/operations/data-admission.ts) for every encrypt and decrypt;
// batch and stream operations call it once per item, so each item gets its own typed refusal.
// A refusal is audited with the purpose the request carried, counted in
// cmek_policy_refusals_total, and thrown as BrokerError purpose_denied / outside_access_window.
import type { AuditActor } from "../../audit/types";
import type { ServiceCaller } from "../../auth/caller";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { auditFailure } from "../views";
import { withinWeeklyWindows } from "./access-windows";
import { spanAt } from "./policy-store";

export type PolicyDeps = Pick<BrokerContext, "audit" | "metrics" | "governance" | "clock">;

export interface PolicyRequest {
  tenantId: string;
  caller: ServiceCaller;
  actor: AuditActor;
  op: "encrypt" | "decrypt";
  purpose: string | undefined;
  requestId: string | undefined;
}

/** What admitted the request beyond its token: the break-glass grant it used, if any. */
export interface PolicyDecision {
  breakGlassGrantId: string | null;
}

const ALLOWED: PolicyDecision = { breakGlassGrantId: null };

/** A governance refusal: the API's error plus the reason its audit entry carries. */
export class PolicyRefusal extends BrokerError {
  constructor(
    readonly reason: "purpose_missing" | "purpose_not_allowed" | "outside_access_window",
    error: BrokerError,
  ) {
    super(error.code, error.message, error.extra);
  }
}

/** The policy check of a single request: a refusal is audited as the request's entry, then thrown. */
export async function checkDataPolicy(ctx: PolicyDeps, req: PolicyRequest): Promise<PolicyDecision> {
  try {
    return await evaluateDataPolicy(ctx, req);
  } catch (e) {
    if (!(e instanceof PolicyRefusal)) throw e;
    await ctx.audit.record({ tenantId: req.tenantId, actor: req.actor, action: req.op, outcome: "denied", purpose: req.purpose, requestId: req.requestId, reason: e.reason }).catch((err) => {
      throw auditFailure(err);
    });
    throw e;
  }
}

/** The check itself, counted in metrics but not audited (a batch audits its items in one commit); throws PolicyRefusal. */
export async function evaluateDataPolicy(ctx: PolicyDeps, req: PolicyRequest): Promise<PolicyDecision> {
  const view = await ctx.governance.forTenant(req.tenantId);
  const policy = view.policies.get(req.caller.tokenId);
  if (!policy) return ALLOWED;
  const purpose = req.purpose;
  if (purpose === undefined || purpose === "") {
    if (policy.requirePurpose) throw refuse(ctx, req, "purpose_missing", new BrokerError("purpose_denied", "this token must give a purpose (purpose is required by the tenant's policy)", { purpose: null }));
  } else if (policy.allowedPurposes && !policy.allowedPurposes.has(purpose)) {
    throw refuse(ctx, req, "purpose_not_allowed", new BrokerError("purpose_denied", `purpose "${purpose}" is not allowed for this token by the tenant's policy`, { purpose }));
  }
  if (!policy.weekly) return ALLOWED;
  const now = ctx.clock();
  if (withinWeeklyWindows(policy.weekly, view.timeZone, new Date(now))) return ALLOWED;
  if (spanAt(view.maintenance, req.caller.tokenId, now)) return ALLOWED;
  const grant = spanAt(view.breakGlass, req.caller.tokenId, now);
  if (grant) return { breakGlassGrantId: grant.id };
  throw refuse(ctx, req, "outside_access_window", new BrokerError("outside_access_window", `this token may not be used now: outside its access windows (read in ${view.timeZone})`, { timeZone: view.timeZone }));
}

function refuse(ctx: PolicyDeps, req: PolicyRequest, reason: PolicyRefusal["reason"], error: BrokerError): PolicyRefusal {
  ctx.metrics.dataRequests.inc({ operation: req.op, outcome: "denied", cache: "none" });
  ctx.metrics.policyRefusals.inc({ operation: req.op, reason });
  return new PolicyRefusal(reason, error);
}
