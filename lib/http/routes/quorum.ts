// M-of-N approvals (issue 13, item 3): the tenant's quorum policy, its approval requests and
// their history, approving and cancelling. Protected actions themselves answer 202 with the
// pending request (lib/http/errors.ts).
import { approveApproval } from "../../broker/operations/approve-approval";
import { cancelApproval } from "../../broker/operations/cancel-approval";
import { getQuorumPolicy, ZQuorumPolicy } from "../../broker/operations/get-quorum-policy";
import { getApproval, listApprovals, ZApprovalList, ZApprovalListQuery, ZApprovalParams, ZApprovalView } from "../../broker/operations/list-approvals";
import { setQuorumPolicy, ZQuorumPolicyRequest } from "../../broker/operations/set-quorum-policy";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError, ZSlugParams } from "../schemas";

export function quorumRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };
  const base = "/api/v1/tenants/:slug";

  defineRoute({
    method: "GET",
    url: `${base}/quorum`,
    summary: "The tenant's quorum policy: which actions need M-of-N approval, M, N and the step-up requirement",
    tag: "quorum",
    access: "quorum.view",
    params: ZSlugParams,
    responses: { 200: ZQuorumPolicy, ...errors },
    handler: async ({ params, caller }) => getQuorumPolicy({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/quorum`,
    summary: "Set the quorum policy (a tenant admin); weakening it is itself an action under the current policy",
    tag: "quorum",
    access: "quorum.policy",
    params: ZSlugParams,
    body: ZQuorumPolicyRequest,
    responses: { 200: ZQuorumPolicy, ...errors },
    handler: async ({ params, body, caller, requestId }) => setQuorumPolicy({ ctx, actor: caller!, tenant: params.slug, requestId, ...body }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/approvals`,
    summary: "Approval requests and their history, newest first",
    tag: "quorum",
    access: "approval.list",
    params: ZSlugParams,
    query: ZApprovalListQuery,
    responses: { 200: ZApprovalList, ...errors },
    handler: async ({ params, query, caller }) => listApprovals({ ctx, actor: caller!, tenant: params.slug, status: query.status }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/approvals/:id`,
    summary: "One approval request",
    tag: "quorum",
    access: "approval.list",
    params: ZApprovalParams,
    responses: { 200: ZApprovalView, ...errors },
    handler: async ({ params, caller }) => getApproval({ ctx, actor: caller!, tenant: params.slug, id: params.id }),
  });

  defineRoute({
    method: "POST",
    url: `${base}/approvals/:id/approve`,
    summary: "Approve (another tenant admin; needs a fresh step-up); the M-th distinct approval runs the action once",
    tag: "quorum",
    access: "approval.approve",
    params: ZApprovalParams,
    responses: { 200: ZApprovalView, 409: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => approveApproval({ ctx, actor: caller!, tenant: params.slug, requestId, id: params.id }),
  });

  defineRoute({
    method: "POST",
    url: `${base}/approvals/:id/cancel`,
    summary: "Cancel a pending request (its requester)",
    tag: "quorum",
    access: "approval.cancel",
    params: ZApprovalParams,
    responses: { 200: ZApprovalView, 409: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => cancelApproval({ ctx, actor: caller!, tenant: params.slug, requestId, id: params.id }),
  });
}
