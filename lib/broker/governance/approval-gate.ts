// The one hook every protected action passes through (unlock, key or cloud switch, token
// creation, audit retention, policy changes, break-glass, crypto-shredding, the quorum policy
// itself; lib/broker/quorum/README.md says how to add one). Where the tenant's quorum policy lists the
// action, the gate creates a pending approval request holding the exact parameters, audits
// approval.requested (which the webhook dispatcher delivers, signed) and throws ApprovalPending,
// which the HTTP layer answers with 202 and the request. The action then runs once, through its
// executor (lib/broker/quorum/executors.ts), when the M-th distinct approval arrives.
//
// The vendor admin token cannot satisfy a quorum: it is refused (quorum_required), never queued.
import { actorOf, type Caller } from "../../auth/caller";
import type { Action } from "../../auth/permissions";
import type { TApprovalView } from "../../contracts/quorum";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { isQuorumAction, loadQuorum } from "../quorum/policy";
import { approvalView, claimApprovedRun, createApproval, recordApprovalEvent } from "../quorum/requests";

export interface ApprovalRequest {
  actor: Caller;
  tenantId: string;
  action: Action;
  /** The exact parameters of the change, as an approver would see them and the executor re-runs them. */
  params: Record<string, unknown>;
  /** Set only by the approval executor: the request was approved, run it. */
  approved?: boolean;
  requestId?: string;
}

export type ApprovalOutcome = { status: "approved" };

/** Thrown instead of running the action: the HTTP layer answers 202 with the request. */
export class ApprovalPending extends Error {
  override readonly name = "ApprovalPending";
  constructor(readonly approval: TApprovalView) {
    super(`approval required: ${approval.action}`);
  }
}

/** Actions whose result is a secret for the requester alone: approval lets the requester run it once. */
export const CLAIMED_BY_REQUESTER: ReadonlySet<Action> = new Set<Action>(["token.create"]);

export type GateDeps = Pick<BrokerContext, "db" | "audit" | "clock">;

export async function approvalGate(ctx: GateDeps, request: ApprovalRequest): Promise<ApprovalOutcome> {
  if (request.approved || !isQuorumAction(request.action)) return { status: "approved" };
  const policy = await loadQuorum(ctx, request.tenantId);
  if (!policy.actions.includes(request.action)) return { status: "approved" };
  const actor = request.actor;
  if (actor.kind !== "console") {
    throw new BrokerError(
      "quorum_required",
      `the tenant's quorum policy requires ${policy.requiredApprovals} of its admins to approve ${request.action}; the vendor admin token cannot request or bypass it`,
    );
  }
  // A new token's secret is shown once, to whoever creates it: after approval the requester sends
  // the same request again and it runs once (the executor created nothing).
  if (CLAIMED_BY_REQUESTER.has(request.action) && (await claimApprovedRun(ctx, { tenantId: request.tenantId, action: request.action, params: request.params, requesterId: actor.userId }))) {
    return { status: "approved" };
  }
  const row = await createApproval(ctx, {
    tenantId: request.tenantId,
    action: request.action,
    params: request.params,
    requester: { id: actor.userId, name: actor.email },
    requiredApprovals: policy.requiredApprovals,
  });
  await recordApprovalEvent(ctx, row, "approval.requested", actorOf(actor), request.requestId);
  throw new ApprovalPending(approvalView(row));
}
