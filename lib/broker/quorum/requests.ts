// Approval requests in PostgreSQL. A request leaves `pending` exactly once: every transition is a
// conditional UPDATE ... WHERE status = 'pending' (the claim), so two instances receiving the M-th
// approval at the same moment cannot both run the action. Votes are rows keyed by (request, user):
// the same admin approving twice counts once. Expiry is judged on the broker's clock when a
// request is read or approved, so no timer is needed (and tests move an injected clock).
import { canonicalJson } from "../../audit/canonical";
import type { AuditActor } from "../../audit/types";
import type { Prisma } from "../../db/generated/client";
import type { QuorumAction, TApprovalView } from "../../contracts/quorum";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";

/** How long a request waits for approvals. */
export const APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;

type Row = Prisma.ApprovalRequestGetPayload<{ include: { votes: true } }>;
type Deps = Pick<BrokerContext, "db" | "audit" | "clock">;
export type ClosedStatus = "executed" | "failed" | "expired" | "cancelled";

export function approvalView(r: Row): TApprovalView {
  return {
    id: r.id,
    action: r.action as QuorumAction,
    params: canonicalJson(r.params),
    status: r.status as TApprovalView["status"],
    requestedBy: { id: r.requestedById, name: r.requestedByName },
    requiredApprovals: r.requiredApprovals,
    approvals: [...r.votes].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map((v) => ({ userId: v.userId, email: v.userEmail, at: v.createdAt.toISOString() })),
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    decidedAt: r.decidedAt?.toISOString() ?? null,
    error: r.error,
  };
}

export async function recordApprovalEvent(
  ctx: Pick<BrokerContext, "audit">,
  r: Row,
  action: `approval.${"requested" | "approved" | ClosedStatus}`,
  actor: AuditActor,
  requestId?: string,
  reason?: string,
) {
  await ctx.audit.record({
    tenantId: r.tenantId,
    actor,
    action,
    outcome: action === "approval.failed" ? "error" : "success",
    requestId,
    reason,
    detail: { approvalId: r.id, action: r.action, params: canonicalJson(r.params), approvals: r.votes.length, requiredApprovals: r.requiredApprovals, expiresAt: r.expiresAt.toISOString() },
  });
}

export async function createApproval(
  ctx: Deps,
  input: { tenantId: string; action: QuorumAction; params: Record<string, unknown>; requester: { id: string; name: string }; requiredApprovals: number },
): Promise<Row> {
  const now = ctx.clock();
  return ctx.db.prisma.approvalRequest.create({
    data: {
      tenantId: input.tenantId,
      action: input.action,
      params: input.params as Prisma.InputJsonValue,
      requestedById: input.requester.id,
      requestedByName: input.requester.name,
      requiredApprovals: input.requiredApprovals,
      createdAt: new Date(now),
      expiresAt: new Date(now + APPROVAL_TTL_MS),
    },
    include: { votes: true },
  });
}

/** The tenant's request, with a pending one past its expiry closed as expired first (audited once: the claim). */
export async function loadApproval(ctx: Deps, tenantId: string, id: string): Promise<Row> {
  const r = await ctx.db.prisma.approvalRequest.findFirst({ where: { id, tenantId }, include: { votes: true } });
  if (!r) throw new BrokerError("not_found", "no such approval request");
  return expireIfDue(ctx, r);
}

export async function expireIfDue(ctx: Deps, r: Row): Promise<Row> {
  if (r.status !== "pending" || r.expiresAt.getTime() > ctx.clock()) return r;
  const closed = await closeApproval(ctx, r.id, "expired");
  if (closed) await recordApprovalEvent(ctx, closed, "approval.expired", { type: "system", name: "quorum" });
  return closed ?? (await reload(ctx, r.id));
}

/** pending -> status, once: null when another caller (or instance) closed it first. */
export async function closeApproval(ctx: Deps, id: string, status: ClosedStatus, outcome?: { result?: unknown; error?: string }): Promise<Row | null> {
  const claimed = await ctx.db.prisma.approvalRequest.updateMany({
    where: { id, status: "pending" },
    data: { status, decidedAt: new Date(ctx.clock()), error: outcome?.error ?? null, ...(outcome?.result === undefined ? {} : { result: outcome.result as Prisma.InputJsonValue }) },
  });
  return claimed.count === 1 ? reload(ctx, id) : null;
}

/** After a claim, the run's outcome (the claim itself set status to executed). */
export async function settleApproval(ctx: Deps, id: string, outcome: { error: string } | { result: unknown }): Promise<Row> {
  await ctx.db.prisma.approvalRequest.update({
    where: { id },
    data: "error" in outcome ? { status: "failed", error: outcome.error.slice(0, 500) } : { result: outcome.result as Prisma.InputJsonValue },
  });
  return reload(ctx, id);
}

/** Adds the user's vote (a second one from the same user is a no-op) and returns the request. */
export async function addVote(ctx: Deps, id: string, user: { id: string; email: string }): Promise<Row> {
  await ctx.db.query(`INSERT INTO approval_vote (request_id, user_id, user_email, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (request_id, user_id) DO NOTHING`, [
    id,
    user.id,
    user.email,
    new Date(ctx.clock()),
  ]);
  return reload(ctx, id);
}

export async function listApprovals(ctx: Deps, tenantId: string, status: "pending" | "all"): Promise<Row[]> {
  const rows = await ctx.db.prisma.approvalRequest.findMany({
    where: { tenantId, ...(status === "pending" ? { status: "pending" } : {}) },
    include: { votes: true },
    orderBy: { createdAt: "desc" },
    take: 100,
  });
  const out: Row[] = [];
  for (const r of rows) out.push(await expireIfDue(ctx, r));
  return status === "pending" ? out.filter((r) => r.status === "pending") : out;
}

async function reload(ctx: Pick<BrokerContext, "db">, id: string): Promise<Row> {
  return await ctx.db.prisma.approvalRequest.findUniqueOrThrow({ where: { id }, include: { votes: true } });
}

/**
 * The one use of an executed approval whose effect is a secret only the requester may see (a new
 * service token): the executor created nothing, and the requester's identical request then runs
 * once. The claim is a conditional UPDATE, so the approval admits exactly one run, on any instance.
 */
export async function claimApprovedRun(ctx: Deps, input: { tenantId: string; action: QuorumAction; params: Record<string, unknown>; requesterId: string }): Promise<string | null> {
  const rows = await ctx.db.query<{ id: string }>(
    `UPDATE approval_request SET result = coalesce(result, '{}'::jsonb) || '{"claimed": true}'::jsonb
      WHERE tenant_id = $1 AND action = $2 AND requested_by_id = $3 AND status = 'executed' AND params = $4::jsonb
        AND coalesce((result ->> 'claimed')::boolean, false) = false AND decided_at > $5
      RETURNING id`,
    [input.tenantId, input.action, input.requesterId, JSON.stringify(input.params), new Date(ctx.clock() - APPROVAL_TTL_MS)],
  );
  return rows[0]?.id ?? null;
}
