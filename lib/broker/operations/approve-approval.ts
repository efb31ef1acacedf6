// POST /api/v1/tenants/{slug}/approvals/{id}/approve: one tenant admin's approval. The requester's
// own approval is refused (it never counts); a second approval by the same admin counts once.
// When the approvals reach M, the request is claimed (pending -> executed, a conditional UPDATE,
// so of two instances receiving the M-th approval at once only one runs it) and its executor
// re-runs the original operation as the approving admin. Approving needs a fresh sign-in, which
// is a passkey or TOTP step-up for an admin who has a factor (lib/auth/authorize.ts).
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { QuorumAction } from "../../contracts/quorum";
import { BrokerError } from "../errors";
import { addVote, approvalView, closeApproval, loadApproval, recordApprovalEvent, settleApproval } from "../quorum/requests";
import { requireTenant } from "../tenant-lookup";
import { EXECUTORS } from "./approval-executors";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZApprovalParams, ZApprovalView } from "../../contracts/quorum";

export async function approveApproval({ ctx, actor, tenant: slug, requestId, id }: TenantOperation & { id: string }) {
  authorize(actor, "approval.approve", slug);
  if (actor.kind !== "console") throw new BrokerError("quorum_required", "only the tenant's console admins can approve");
  const tenant = await requireTenant(ctx, slug);
  const current = await loadApproval(ctx, tenant.id, id);
  if (current.status !== "pending") throw new BrokerError("conflict", `this request is ${current.status}`);
  if (current.requestedById === actor.userId) throw new BrokerError("forbidden", "the requester's own approval does not count; another admin must approve");
  const who = actorOf(actor);
  const voted = await addVote(ctx, id, { id: actor.userId, email: actor.email });
  const fresh = !current.votes.some((v) => v.userId === actor.userId);
  if (fresh) await recordApprovalEvent(ctx, voted, "approval.approved", who, requestId);
  if (voted.votes.length < voted.requiredApprovals) return approvalView(voted);
  // The M-th approval: whoever wins the claim runs the action; the others see it executed.
  const claimed = await closeApproval(ctx, id, "executed");
  if (!claimed) return approvalView(await loadApproval(ctx, tenant.id, id));
  try {
    const result = await EXECUTORS[claimed.action as QuorumAction]({ ctx, actor, tenant: slug, requestId, params: claimed.params });
    const settled = await settleApproval(ctx, id, { result: summarize(result) });
    await recordApprovalEvent(ctx, settled, "approval.executed", who, requestId);
    return approvalView(settled);
  } catch (e) {
    const reason = e instanceof BrokerError ? `${e.code}: ${e.message}` : "the action failed";
    const settled = await settleApproval(ctx, id, { error: reason });
    await recordApprovalEvent(ctx, settled, "approval.failed", who, requestId, e instanceof BrokerError ? e.code : "error");
    return approvalView(settled);
  }
}

/** What the run returned, minus anything secret-shaped (a created token's secret is never stored). */
function summarize(result: unknown): unknown {
  if (!result || typeof result !== "object") return null;
  const { token: _secret, ...rest } = result as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest)) as unknown;
}
