// A tenant's quorum policy: which actions need M-of-N approval, M, and whether its admins must
// step up with a factor. Read from tenant_quorum on each protected action (they are rare, so no
// cache: a change applies on every instance at once).
import type { Prisma } from "../../db/generated/client";
import { QUORUM_ACTIONS, type QuorumAction, type TQuorumPolicyRequest } from "../../contracts/quorum";
import type { BrokerContext } from "../context";

export interface QuorumPolicy {
  actions: QuorumAction[];
  requiredApprovals: number;
  requireStepUp: boolean;
  updatedAt: Date | null;
}

export const NO_QUORUM: QuorumPolicy = { actions: [], requiredApprovals: 1, requireStepUp: false, updatedAt: null };

export function isQuorumAction(action: string): action is QuorumAction {
  return (QUORUM_ACTIONS as readonly string[]).includes(action);
}

export async function loadQuorum(ctx: Pick<BrokerContext, "db">, tenantId: string): Promise<QuorumPolicy> {
  const row = await ctx.db.prisma.tenantQuorum.findUnique({ where: { tenantId } });
  if (!row) return NO_QUORUM;
  const actions = Array.isArray(row.actions) ? (row.actions as unknown[]).filter((a): a is QuorumAction => typeof a === "string" && isQuorumAction(a)) : [];
  return { actions, requiredApprovals: row.requiredApprovals, requireStepUp: row.requireStepUp, updatedAt: row.updatedAt };
}

/**
 * A change weakens the policy when it drops a protected action, lowers M or drops the step-up
 * requirement; a weakening is itself a quorum.policy action under the current policy.
 */
export function weakens(current: QuorumPolicy, next: TQuorumPolicyRequest): boolean {
  if (current.actions.some((a) => !next.actions.includes(a))) return true;
  if (current.actions.length > 0 && next.requiredApprovals < current.requiredApprovals) return true;
  return current.requireStepUp && !next.requireStepUp;
}

export async function saveQuorum(ctx: Pick<BrokerContext, "db">, tenantId: string, p: TQuorumPolicyRequest): Promise<void> {
  const data = { actions: [...new Set(p.actions)] as Prisma.InputJsonValue, requiredApprovals: p.requiredApprovals, requireStepUp: p.requireStepUp, updatedAt: new Date() };
  await ctx.db.prisma.tenantQuorum.upsert({ where: { tenantId }, create: { tenantId, ...data }, update: data });
}

/** N: the tenant's active console admins. */
export function countAdmins(ctx: Pick<BrokerContext, "db">, tenantId: string): Promise<number> {
  return ctx.db.prisma.consoleUser.count({ where: { tenantId, role: "tenant_admin", disabledAt: null } });
}
