// The tenant's audit trail: list, streaming export, verification, live feed (SSE), webhooks,
// retention, and the broker's public key for offline verification.
import { z } from "zod";
import { sseMessage, type AuditQueryFilters } from "../../audit";
import { BrokerError } from "../../broker/errors";
import { addWebhook, ZWebhookCreated, ZWebhookCreateRequest } from "../../broker/operations/add-webhook";
import { auditActivity, ZAuditActivity, ZAuditActivityQuery } from "../../broker/operations/audit-activity";
import { exportAudit, ZAuditExportQuery } from "../../broker/operations/export-audit";
import { getAuditPublicKey, ZAuditPublicKeys } from "../../broker/operations/get-audit-public-key";
import { listAudit, ZAuditListQuery, ZAuditPage, type TAuditFilters } from "../../broker/operations/list-audit";
import { listWebhookDeliveriesOf, ZWebhookDeliveries, ZWebhookDeliveriesQuery } from "../../broker/operations/list-webhook-deliveries";
import { listWebhooks, ZWebhookList } from "../../broker/operations/list-webhooks";
import { openAuditStream } from "../../broker/operations/open-audit-stream";
import { removeWebhook } from "../../broker/operations/remove-webhook";
import { setAuditRetention, ZAuditRetention, ZAuditRetentionRequest } from "../../broker/operations/set-audit-retention";
import { verifyAudit, ZAuditVerifyResult } from "../../broker/operations/verify-audit";
import { defineRoute, type RouteEnv } from "../route";
import { ZError, ZSlugParams } from "../schemas";
import { ZAuditEvent } from "../schemas/audit";

function toFilters(q: TAuditFilters): AuditQueryFilters {
  const f: AuditQueryFilters = {};
  if (q.from) f.from = new Date(q.from);
  if (q.to) f.to = new Date(q.to);
  if (q.action?.length) f.action = q.action;
  if (q.outcome?.length) f.outcome = q.outcome;
  if (q.actor) f.actor = q.actor;
  if (q.keyRef) f.keyRef = q.keyRef;
  if (q.purpose) f.purpose = q.purpose;
  if (q.requestId) f.requestId = q.requestId;
  return f;
}

export function auditRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit",
    summary: "Audit events, newest first, with filters and cursor pagination",
    tag: "audit",
    access: "audit.read",
    params: ZSlugParams,
    query: ZAuditListQuery,
    responses: { 200: ZAuditPage, ...errors },
    handler: async ({ params, query, caller }) =>
      listAudit({ ctx, actor: caller!, tenant: params.slug, filters: toFilters(query), limit: query.limit, cursor: query.cursor ?? null }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/export",
    summary: "Stream the audit log as JSON Lines (self-verifying, with signed checkpoints) or CSV",
    tag: "audit",
    access: "audit.export",
    params: ZSlugParams,
    query: ZAuditExportQuery,
    responses: {
      200: { description: "JSON Lines (a header line, then events and signed checkpoints; self-verifying) or CSV, streamed as an attachment", media: ["application/x-ndjson", "text/csv"] },
      ...errors,
    },
    handler: async ({ params, query, reply, caller, requestId }) => {
      const { format, ...rest } = query;
      const out = await exportAudit({ ctx, actor: caller!, tenant: params.slug, requestId, format, filters: toFilters(rest) });
      return reply.type(out.contentType).header("content-disposition", `attachment; filename="${out.filename}"`).send(out.stream);
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/verify",
    summary: "Verify the tenant's hash chain and checkpoint signatures",
    tag: "audit",
    access: "audit.verify",
    params: ZSlugParams,
    responses: { 200: ZAuditVerifyResult, ...errors },
    handler: async ({ params, caller }) => verifyAudit({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/activity",
    summary: "Audit events per minute and outcome over the last N minutes (zero-filled), for charts",
    tag: "audit",
    access: "audit.read",
    params: ZSlugParams,
    query: ZAuditActivityQuery,
    responses: { 200: ZAuditActivity, ...errors },
    handler: async ({ params, query, caller }) => auditActivity({ ctx, actor: caller!, tenant: params.slug, minutes: query.minutes }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/stream",
    summary: "Server-Sent Events: audit events of this tenant as they become durable, written by any instance",
    tag: "audit",
    access: "audit.read",
    params: ZSlugParams,
    responses: {
      200: { description: "Server-Sent Events: `event: audit` with `id` the entry's seq and `data` one audit event (x-itemSchema); comment lines keep the connection alive", media: ["text/event-stream"], itemSchema: ZAuditEvent },
      ...errors,
    },
    handler: async ({ params, req, reply, caller }) => {
      const t = { id: (await openAuditStream({ ctx, actor: caller!, tenant: params.slug })).tenantId };
      const feed = env.auditFeed;
      if (!feed) throw new BrokerError("not_found", "live audit feed is off (BROKER_AUDIT=off)");
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      let closed = false;
      let unsubscribe = () => {};
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
      req.raw.on("close", () => {
        closed = true;
        clearInterval(keepAlive);
        unsubscribe();
      });
      try {
        unsubscribe = await feed.subscribe(t.id, (ev) => res.write(sseMessage(ev)));
      } catch {
        clearInterval(keepAlive);
        res.end("event: error\ndata: {\"error\":\"audit_unavailable\"}\n\n");
        return;
      }
      if (closed) unsubscribe();
      // Sent once the subscription is in place: every entry made durable after this line arrives.
      else res.write(": connected\n\n");
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/audit/public-key",
    summary: "The broker's Ed25519 public key(s) that sign audit checkpoints",
    tag: "audit",
    access: "public",
    responses: { 200: ZAuditPublicKeys },
    handler: async () => getAuditPublicKey({ ctx }),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/audit/retention",
    summary: "Keep audit events for this many days (null: forever); pruning keeps the chain verifiable",
    tag: "audit",
    access: "audit.retention",
    params: ZSlugParams,
    body: ZAuditRetentionRequest,
    responses: { 200: ZAuditRetention, ...errors },
    handler: async ({ params, body, caller, requestId }) => setAuditRetention({ ctx, actor: caller!, tenant: params.slug, requestId, days: body.days }),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/webhooks",
    summary: "Audit webhook subscriptions (secrets are never shown again)",
    tag: "webhooks",
    access: "webhook.list",
    params: ZSlugParams,
    responses: { 200: ZWebhookList, ...errors },
    handler: async ({ params, caller }) => listWebhooks({ ctx, actor: caller!, tenant: params.slug }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/webhooks",
    summary: "Subscribe a URL to this tenant's audit events (HMAC-signed; the secret is returned once)",
    tag: "webhooks",
    access: "webhook.create",
    params: ZSlugParams,
    body: ZWebhookCreateRequest,
    responses: { 201: ZWebhookCreated, ...errors },
    handler: async ({ params, body, caller, reply, requestId }) => {
      const created = await addWebhook({ ctx, actor: caller!, tenant: params.slug, requestId, url: body.url, allowPrivate: env.allowPrivateWebhooks ?? false });
      // The dispatcher also learns of it by notification; refreshing here just saves that trip.
      void env.webhooks?.refresh();
      return reply.code(201).send(created);
    },
  });

  defineRoute({
    method: "DELETE",
    url: "/api/v1/tenants/:slug/webhooks/:webhookId",
    summary: "Remove an audit webhook",
    tag: "webhooks",
    access: "webhook.delete",
    params: ZSlugParams.extend({ webhookId: z.uuid() }),
    responses: { 204: "removed", ...errors },
    handler: async ({ params, caller, reply, requestId }) => {
      await removeWebhook({ ctx, actor: caller!, tenant: params.slug, requestId, webhookId: params.webhookId });
      void env.webhooks?.refresh();
      return reply.code(204).send();
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/webhooks/:webhookId/deliveries",
    summary: "Delivery log of an audit webhook",
    tag: "webhooks",
    access: "webhook.list",
    params: ZSlugParams.extend({ webhookId: z.uuid() }),
    query: ZWebhookDeliveriesQuery,
    responses: { 200: ZWebhookDeliveries, ...errors },
    handler: async ({ params, query, caller }) => listWebhookDeliveriesOf({ ctx, actor: caller!, tenant: params.slug, webhookId: params.webhookId, limit: query.limit }),
  });
}
