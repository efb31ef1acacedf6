// POST /api/v1/tenants/{slug}/approvals/{id}/cancel: the requester withdraws a pending request.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { approvalView, closeApproval, loadApproval, recordApprovalEvent } from "../quorum/requests";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZApprovalParams, ZApprovalView } from "../../contracts/quorum";

export async function cancelApproval({ ctx, actor, tenant: slug, requestId, id }: TenantOperation<Pick<BrokerContext, "db" | "audit" | "clock" | "registry" | "cache" | "bus">> & { id: string }) {
  authorize(actor, "approval.cancel", slug);
  const tenant = await requireTenant(ctx, slug);
  const current = await loadApproval(ctx, tenant.id, id);
  if (actor.kind !== "console" || current.requestedById !== actor.userId) throw new BrokerError("forbidden", "only the requester can cancel a request");
  const closed = await closeApproval(ctx, id, "cancelled");
  if (!closed) throw new BrokerError("conflict", `this request is ${(await loadApproval(ctx, tenant.id, id)).status}`);
  await recordApprovalEvent(ctx, closed, "approval.cancelled", actorOf(actor), requestId);
  return approvalView(closed);
}
