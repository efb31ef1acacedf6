// The one hook every governance change that could widen access passes through (policy changes,
// break-glass grants). Today every request is approved at once. Where a tenant sets an M-of-N
// quorum policy (issue 13, item 3), this is the place that answers "pending" instead and runs
// the change when the M-th approval arrives: callers already branch on the outcome.
import type { Caller } from "../../auth/caller";
import type { Action } from "../../auth/permissions";

export interface ApprovalRequest {
  actor: Caller;
  tenantId: string;
  action: Action;
  /** The exact parameters of the change, as an approver would see them. */
  params: Record<string, unknown>;
}

export type ApprovalOutcome = { status: "approved" };

export function approvalGate(_request: ApprovalRequest): Promise<ApprovalOutcome> {
  return Promise.resolve({ status: "approved" });
}
