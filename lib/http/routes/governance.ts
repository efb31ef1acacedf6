// Tenant governance (issue 13): purpose policies and access windows per token, the tenant's
// time zone and purpose codes, maintenance windows, break-glass exceptions, alerts and their
// thresholds. The checks themselves run in the data path (lib/broker/governance/data-policy.ts).
import { addMaintenanceWindow, ZMaintenanceWindow, ZMaintenanceWindowRequest } from "../../broker/operations/add-maintenance-window";
import { getAlertThresholds, setAlertThresholds, ZAlertThresholds, ZAlertThresholdsRequest } from "../../broker/operations/alert-thresholds";
import { auditPurposes, ZAuditPurposes, ZAuditPurposesQuery } from "../../broker/operations/audit-purposes";
import { getAccessWindows, ZAccessWindows, ZTokenParams } from "../../broker/operations/get-access-windows";
import { getPurposeCatalog, ZPurposeCatalog } from "../../broker/operations/get-purpose-catalog";
import { getPurposePolicy, ZPurposePolicy } from "../../broker/operations/get-purpose-policy";
import { grantBreakGlass, ZBreakGlassGrant, ZBreakGlassRequest } from "../../broker/operations/grant-break-glass";
import { listAlerts, ZAlertList, ZAlertListQuery } from "../../broker/operations/list-alerts";
import { listBreakGlass, ZBreakGlassList } from "../../broker/operations/list-break-glass";
import { listFleetAlerts } from "../../broker/operations/list-fleet-alerts";
import { listMaintenanceWindows, ZMaintenanceWindowList } from "../../broker/operations/list-maintenance-windows";
import { revokeBreakGlass, ZIdParams } from "../../broker/operations/revoke-break-glass";
import { setAccessWindows, ZAccessWindowsRequest } from "../../broker/operations/set-access-windows";
import { setPurposeCode, ZPurposeCodeParams, ZPurposeCodeRequest } from "../../broker/operations/set-purpose-code";
import { setPurposePolicy, ZPurposePolicyRequest } from "../../broker/operations/set-purpose-policy";
import { setTimeZone, ZTimeZone, ZTimeZoneRequest } from "../../broker/operations/set-time-zone";
import { ZCustomPurpose } from "../../contracts/governance";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError, ZSlugParams } from "../schemas";

export function governanceRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };
  const base = "/api/v1/tenants/:slug";

  defineRoute({
    method: "GET",
    url: `${base}/purposes`,
    summary: "Purpose codes: the standard catalog (modelled on Key Access Justifications) and the tenant's own",
    tag: "governance",
    access: "governance.view",
    params: ZSlugParams,
    responses: { 200: ZPurposeCatalog, ...errors },
    handler: async ({ params, caller }) => getPurposeCatalog({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/purposes/:code`,
    summary: "Define a tenant purpose code (or change its description)",
    tag: "governance",
    access: "governance.policy",
    params: ZPurposeCodeParams,
    body: ZPurposeCodeRequest,
    responses: { 200: ZCustomPurpose, 409: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => setPurposeCode({ ctx, actor: caller!, tenant: params.slug, requestId, code: params.code, description: body.description }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/tokens/:tokenId/purpose-policy`,
    summary: "The purposes a service token may give, and whether it must give one",
    tag: "governance",
    access: "governance.view",
    params: ZTokenParams,
    responses: { 200: ZPurposePolicy, ...errors },
    handler: async ({ params, caller }) => getPurposePolicy({ ctx, actor: caller!, tenant: params.slug, tokenId: params.tokenId }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/tokens/:tokenId/purpose-policy`,
    summary: "Set a token's purpose policy; data requests outside it get 403 purpose_denied (on every instance within a second)",
    tag: "governance",
    access: "governance.policy",
    params: ZTokenParams,
    body: ZPurposePolicyRequest,
    responses: { 200: ZPurposePolicy, ...errors },
    handler: async ({ params, body, caller, requestId }) =>
      setPurposePolicy({ ctx, actor: caller!, tenant: params.slug, requestId, tokenId: params.tokenId, allowedPurposes: body.allowedPurposes, requirePurpose: body.requirePurpose }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/tokens/:tokenId/access-windows`,
    summary: "A token's weekly access windows, in the tenant's time zone",
    tag: "governance",
    access: "governance.view",
    params: ZTokenParams,
    responses: { 200: ZAccessWindows, ...errors },
    handler: async ({ params, caller }) => getAccessWindows({ ctx, actor: caller!, tenant: params.slug, tokenId: params.tokenId }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/tokens/:tokenId/access-windows`,
    summary: "Set a token's weekly access windows (null: no restriction); outside them data requests get 403 outside_access_window",
    tag: "governance",
    access: "governance.policy",
    params: ZTokenParams,
    body: ZAccessWindowsRequest,
    responses: { 200: ZAccessWindows, ...errors },
    handler: async ({ params, body, caller, requestId }) => setAccessWindows({ ctx, actor: caller!, tenant: params.slug, requestId, tokenId: params.tokenId, weekly: body.weekly }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/time-zone`,
    summary: "The tenant's IANA time zone, in which access windows and usual hours are read",
    tag: "governance",
    access: "governance.policy",
    params: ZSlugParams,
    body: ZTimeZoneRequest,
    responses: { 200: ZTimeZone, ...errors },
    handler: async ({ params, body, caller, requestId }) => setTimeZone({ ctx, actor: caller!, tenant: params.slug, requestId, timeZone: body.timeZone }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/maintenance-windows`,
    summary: "The tenant's one-off maintenance windows, latest first",
    tag: "governance",
    access: "governance.view",
    params: ZSlugParams,
    responses: { 200: ZMaintenanceWindowList, ...errors },
    handler: async ({ params, caller }) => listMaintenanceWindows({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "POST",
    url: `${base}/maintenance-windows`,
    summary: "Add a one-off window in which window-restricted tokens may be used",
    tag: "governance",
    access: "governance.policy",
    params: ZSlugParams,
    body: ZMaintenanceWindowRequest,
    responses: { 201: ZMaintenanceWindow, ...errors },
    handler: async ({ params, body, caller, requestId, reply }) => reply.code(201).send(await addMaintenanceWindow({ ctx, actor: caller!, tenant: params.slug, requestId, ...body })),
  });

  defineRoute({
    method: "GET",
    url: `${base}/break-glass`,
    summary: "Break-glass exceptions, latest first, with whether each is in force",
    tag: "governance",
    access: "governance.view",
    params: ZSlugParams,
    responses: { 200: ZBreakGlassList, ...errors },
    handler: async ({ params, caller }) => listBreakGlass({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "POST",
    url: `${base}/break-glass`,
    summary: "Grant a time-bounded exception to the access windows, with a reason (tenant admin, fresh sign-in)",
    tag: "governance",
    access: "governance.break_glass",
    params: ZSlugParams,
    body: ZBreakGlassRequest,
    responses: { 201: ZBreakGlassGrant, ...errors },
    handler: async ({ params, body, caller, requestId, reply }) => reply.code(201).send(await grantBreakGlass({ ctx, actor: caller!, tenant: params.slug, requestId, ...body })),
  });

  defineRoute({
    method: "DELETE",
    url: `${base}/break-glass/:id`,
    summary: "End a break-glass exception now",
    tag: "governance",
    access: "governance.break_glass_revoke",
    params: ZIdParams,
    responses: { 200: ZBreakGlassGrant, ...errors },
    handler: async ({ params, caller, requestId }) => revokeBreakGlass({ ctx, actor: caller!, tenant: params.slug, requestId, id: params.id }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/alerts`,
    summary: "Alerts on unusual key use (open ones by default)",
    tag: "governance",
    access: "governance.view",
    params: ZSlugParams,
    query: ZAlertListQuery,
    responses: { 200: ZAlertList, ...errors },
    handler: async ({ params, query, caller }) => listAlerts({ ctx, actor: caller!, tenant: params.slug, state: query.state, limit: query.limit }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/alert-thresholds`,
    summary: "How unusual use must be to raise an alert",
    tag: "governance",
    access: "governance.view",
    params: ZSlugParams,
    responses: { 200: ZAlertThresholds, ...errors },
    handler: async ({ params, caller }) => getAlertThresholds({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "PUT",
    url: `${base}/alert-thresholds`,
    summary: "Change alert thresholds (members not given keep their value)",
    tag: "governance",
    access: "governance.policy",
    params: ZSlugParams,
    body: ZAlertThresholdsRequest,
    responses: { 200: ZAlertThresholds, ...errors },
    handler: async ({ params, body, caller, requestId }) => setAlertThresholds({ ctx, actor: caller!, tenant: params.slug, requestId, changes: body }),
  });

  defineRoute({
    method: "GET",
    url: `${base}/audit/purposes`,
    summary: "Data requests per purpose over the last minutes (success and denied)",
    tag: "audit",
    access: "audit.read",
    params: ZSlugParams,
    query: ZAuditPurposesQuery,
    responses: { 200: ZAuditPurposes, ...errors },
    handler: async ({ params, query, caller }) => auditPurposes({ ctx, actor: caller!, tenant: params.slug, minutes: query.minutes }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/fleet/alerts",
    summary: "Every tenant's open alerts on unusual key use (vendor admin or vendor operator)",
    tag: "fleet",
    access: "fleet.view",
    responses: { 200: ZAlertList, 401: ZError, 403: ZError },
    handler: async ({ caller }) => listFleetAlerts({ ctx, actor: caller! }),
  });
}
