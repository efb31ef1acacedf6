// PUT /api/v1/tenants/{slug}/quorum: which actions need M-of-N approval, M, and whether the
// tenant's admins must step up with a factor. Tightening applies at once; weakening (dropping an
// action, lowering M, dropping step-up) is itself a quorum.policy action under the current policy,
// so it waits for approval when the current policy protects quorum.policy. Only the tenant's own
// admins may set it (the vendor admin token can lock a tenant, never weaken its quorum).
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { TQuorumPolicyRequest } from "../../contracts/quorum";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { approvalGate } from "../governance/approval-gate";
import { countAdmins, loadQuorum, saveQuorum, weakens } from "../quorum/policy";
import { requireTenant } from "../tenant-lookup";
import { quorumView } from "./get-quorum-policy";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZQuorumPolicy, ZQuorumPolicyRequest } from "../../contracts/quorum";

type Deps = Pick<BrokerContext, "db" | "audit" | "clock" | "registry" | "cache" | "bus">;

export async function setQuorumPolicy({ ctx, actor, tenant: slug, requestId, approved, actions, requiredApprovals, requireStepUp }: TenantOperation<Deps> & TQuorumPolicyRequest) {
  authorize(actor, "quorum.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  const next = { actions: [...new Set(actions)], requiredApprovals, requireStepUp };
  const admins = await countAdmins(ctx, tenant.id);
  // The requester never counts: M approvals need M admins besides the one who asks.
  if (next.actions.length > 0 && requiredApprovals > admins - 1) {
    throw new BrokerError("invalid_request", `the tenant has ${admins} admins: at most ${Math.max(admins - 1, 0)} can approve besides the requester`);
  }
  const current = await loadQuorum(ctx, tenant.id);
  if (weakens(current, next)) await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "quorum.policy", params: next });
  await saveQuorum(ctx, tenant.id, next);
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "quorum.policy", outcome: "success", requestId, detail: next });
  return quorumView(await loadQuorum(ctx, tenant.id), admins);
}
