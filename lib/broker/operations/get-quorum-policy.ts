// GET /api/v1/tenants/{slug}/quorum: the tenant's quorum policy and its number of admins (N).
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { countAdmins, loadQuorum, type QuorumPolicy } from "../quorum/policy";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The response schema of this operation's route (lib/contracts).
export { ZQuorumPolicy } from "../../contracts/quorum";

export function quorumView(p: QuorumPolicy, admins: number) {
  return { actions: p.actions, requiredApprovals: p.requiredApprovals, requireStepUp: p.requireStepUp, admins, updatedAt: p.updatedAt?.toISOString() ?? null };
}

export async function getQuorumPolicy({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "registry" | "cache" | "bus">>) {
  authorize(actor, "quorum.view", slug);
  const tenant = await requireTenant(ctx, slug);
  return quorumView(await loadQuorum(ctx, tenant.id), await countAdmins(ctx, tenant.id));
}
