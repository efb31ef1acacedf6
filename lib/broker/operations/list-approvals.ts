// GET /api/v1/tenants/{slug}/approvals[/{id}]: approval requests and their history (newest
// first; a pending request past its expiry is closed as expired when read).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { approvalView, listApprovals as listRows, loadApproval } from "../quorum/requests";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZApprovalList, ZApprovalListQuery, ZApprovalParams, ZApprovalView } from "../../contracts/quorum";

type Deps = Pick<BrokerContext, "db" | "audit" | "clock" | "registry" | "cache" | "bus">;

export async function listApprovals({ ctx, actor, tenant: slug, status }: TenantOperation<Deps> & { status: "pending" | "all" }) {
  authorize(actor, "approval.list", slug);
  const tenant = await requireTenant(ctx, slug);
  return { requests: (await listRows(ctx, tenant.id, status)).map(approvalView) };
}

export async function getApproval({ ctx, actor, tenant: slug, id }: TenantOperation<Deps> & { id: string }) {
  authorize(actor, "approval.list", slug);
  const tenant = await requireTenant(ctx, slug);
  return approvalView(await loadApproval(ctx, tenant.id, id));
}
