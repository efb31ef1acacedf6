// The tenant's audit trail: list, streaming export, verification, live feed (SSE), webhooks,
// retention, and the broker's public key for offline verification.
import { z } from "zod";
import {
  getPublicKey,
  listAuditEvents,
  listPublicKeys,
  listWebhookDeliveries,
  listWebhookSubscriptions,
  sseMessage,
  verifyTenantChain,
  type AuditQueryFilters,
} from "../../audit";
import { ACTIVITY_MAX_MINUTES, tenantAuditActivity } from "../../audit/aggregate";
import { BrokerError } from "../../broker/errors";
import { addAuditWebhook, asInvalidRequest, exportAudit, removeAuditWebhook, setAuditRetention } from "../../broker/audit-admin";
import { actorOf } from "../auth";
import { defineRoute, type RouteEnv } from "../route";
import { isSafeText, SAFE_TEXT_MESSAGE, ZError, ZSafeString, ZSlugParams } from "../schemas";

const csv = ZSafeString.max(500)
  .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));

const ZAuditFilters = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  action: csv.optional(),
  outcome: csv.optional(),
  actor: ZSafeString.max(200).optional(),
  keyRef: ZSafeString.max(2048).optional(),
  purpose: ZSafeString.max(200).optional(),
  requestId: ZSafeString.max(128).optional(),
});

const ZAuditListQuery = ZAuditFilters.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: ZSafeString.max(200).optional(),
});

const ZExportQuery = ZAuditFilters.extend({ format: z.enum(["jsonl", "csv"]).default("jsonl") });

function toFilters(q: z.infer<typeof ZAuditFilters>): AuditQueryFilters {
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
  const { broker } = env;
  const db = broker.db;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError };

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit",
    summary: "Audit events, newest first, with filters and cursor pagination",
    tag: "audit",
    access: "tenant_read",
    params: ZSlugParams,
    query: ZAuditListQuery,
    responses: { 200: z.object({ events: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().nullable() }), ...errors },
    handler: async ({ params, query }) => {
      const t = await broker.requireTenant(params.slug);
      return asInvalidRequest(() => listAuditEvents(db, t.id, toFilters(query), { limit: query.limit, cursor: query.cursor ?? null }));
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/export",
    summary: "Stream the audit log as JSON Lines (self-verifying, with signed checkpoints) or CSV",
    tag: "audit",
    access: "tenant_read",
    params: ZSlugParams,
    query: ZExportQuery,
    responses: { 200: "application/x-ndjson or text/csv stream", ...errors },
    handler: async ({ params, query, reply, caller, requestId }) => {
      const { format, ...rest } = query;
      const out = await exportAudit(broker, actorOf(caller!), params.slug, format, toFilters(rest), requestId);
      return reply.type(out.contentType).header("content-disposition", `attachment; filename="${out.filename}"`).send(out.stream);
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/verify",
    summary: "Verify the tenant's hash chain and checkpoint signatures",
    tag: "audit",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: z.object({ ok: z.boolean(), count: z.number(), firstBadEntry: z.unknown().optional() }).loose(), ...errors },
    handler: async ({ params }) => {
      const t = await broker.requireTenant(params.slug);
      return verifyTenantChain(db, t.id);
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/activity",
    summary: "Audit events per minute and outcome over the last N minutes (zero-filled), for charts",
    tag: "audit",
    access: "tenant_read",
    params: ZSlugParams,
    query: z.object({ minutes: z.coerce.number().int().min(1).max(ACTIVITY_MAX_MINUTES).default(60) }),
    responses: {
      200: z.object({
        from: z.string(),
        to: z.string(),
        minutes: z.array(z.object({ minute: z.string(), total: z.number(), outcomes: z.record(z.string(), z.number()) })),
        totals: z.record(z.string(), z.number()),
      }),
      ...errors,
    },
    handler: async ({ params, query }) => {
      const t = await broker.requireTenant(params.slug);
      return tenantAuditActivity(db, t.id, { minutes: query.minutes });
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/audit/stream",
    summary: "Server-Sent Events: audit events of this tenant as they become durable, written by any instance",
    tag: "audit",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: "text/event-stream", ...errors },
    handler: async ({ params, req, reply }) => {
      const t = await broker.requireTenant(params.slug);
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
    responses: { 200: z.object({ current: z.object({ keyId: z.string(), publicKeyPem: z.string() }), all: z.array(z.object({ keyId: z.string(), publicKeyPem: z.string() })) }) },
    handler: async () => ({ current: await getPublicKey(db), all: await listPublicKeys(db) }),
  });

  defineRoute({
    method: "PUT",
    url: "/api/v1/tenants/:slug/audit/retention",
    summary: "Keep audit events for this many days (null: forever); pruning keeps the chain verifiable",
    tag: "audit",
    access: "tenant_admin",
    params: ZSlugParams,
    body: z.strictObject({ days: z.number().int().min(1).max(3650).nullable() }),
    responses: { 200: z.object({ retentionDays: z.number().nullable() }), ...errors },
    handler: async ({ params, body, caller, requestId }) => setAuditRetention(broker, actorOf(caller!), params.slug, body.days, requestId),
  });

  const ZWebhook = z.object({ id: z.string(), url: z.string(), createdAt: z.string() }).loose();

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/webhooks",
    summary: "Audit webhook subscriptions (secrets are never shown again)",
    tag: "webhooks",
    access: "tenant_read",
    params: ZSlugParams,
    responses: { 200: z.object({ webhooks: z.array(ZWebhook) }), ...errors },
    handler: async ({ params }) => {
      const t = await broker.requireTenant(params.slug);
      return { webhooks: await listWebhookSubscriptions(db, t.id) };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/webhooks",
    summary: "Subscribe a URL to this tenant's audit events (HMAC-signed; the secret is returned once)",
    tag: "webhooks",
    access: "tenant_admin",
    params: ZSlugParams,
    body: z.strictObject({ url: z.url().max(2048).refine(isSafeText, SAFE_TEXT_MESSAGE) }),
    responses: { 201: z.object({ webhook: ZWebhook, secret: z.string() }), ...errors },
    handler: async ({ params, body, caller, reply, requestId }) => {
      const created = await addAuditWebhook(broker, actorOf(caller!), params.slug, body.url, { allowPrivate: env.allowPrivateWebhooks ?? false, requestId });
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
    access: "tenant_admin",
    params: ZSlugParams.extend({ webhookId: z.uuid() }),
    responses: { 204: "removed", ...errors },
    handler: async ({ params, caller, reply, requestId }) => {
      await removeAuditWebhook(broker, actorOf(caller!), params.slug, params.webhookId, requestId);
      void env.webhooks?.refresh();
      return reply.code(204).send();
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/tenants/:slug/webhooks/:webhookId/deliveries",
    summary: "Delivery log of an audit webhook",
    tag: "webhooks",
    access: "tenant_read",
    params: ZSlugParams.extend({ webhookId: z.uuid() }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
    responses: { 200: z.object({ deliveries: z.array(z.record(z.string(), z.unknown())) }), ...errors },
    handler: async ({ params, query }) => {
      const t = await broker.requireTenant(params.slug);
      return { deliveries: await listWebhookDeliveries(db, t.id, params.webhookId, { limit: query.limit }) };
    },
  });
}
