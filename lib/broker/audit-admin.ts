// The tenant-facing audit operations that change something or leave a trace: export (itself
// audited), retention and webhook subscriptions. Each checks the tenant, does the work and
// records it, so the HTTP routes stay one call each.
import {
  AuditQueryError,
  auditExportContentType,
  createWebhookSubscription,
  deleteWebhookSubscription,
  exportTenantAuditStream,
  type AuditExportFormat,
  type AuditQueryFilters,
} from "../audit";
import type { AuditActor } from "../audit/types";
import type { Broker } from "./broker";
import { BrokerError } from "./errors";

/** Audit-layer query errors (bad cursor, filters a verifiable export cannot take) are the caller's. */
export async function asInvalidRequest<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AuditQueryError) throw new BrokerError("invalid_request", e.message);
    throw e;
  }
}

export async function exportAudit(broker: Broker, actor: AuditActor, slug: string, format: AuditExportFormat, filters: AuditQueryFilters, requestId?: string) {
  const t = await broker.requireTenant(slug);
  const stream = await asInvalidRequest(() => exportTenantAuditStream(broker.db, t.id, format, filters));
  await broker.audit.record({ tenantId: t.id, actor, action: "audit.export", outcome: "success", requestId, detail: { format } });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return { stream, contentType: auditExportContentType(format), filename: `audit-${t.slug}-${stamp}.${format}` };
}

export async function setAuditRetention(broker: Broker, actor: AuditActor, slug: string, days: number | null, requestId?: string) {
  const t = await broker.requireTenant(slug);
  await broker.db.prisma.tenant.update({ where: { id: t.id }, data: { retentionDays: days } });
  await broker.audit.record({ tenantId: t.id, actor, action: "tenant.settings", outcome: "success", requestId, detail: { retentionDays: days } });
  return { retentionDays: days };
}

export async function addAuditWebhook(broker: Broker, actor: AuditActor, slug: string, url: string, opts: { allowPrivate: boolean; requestId?: string }) {
  const t = await broker.requireTenant(slug);
  const created = await asInvalidRequest(() => createWebhookSubscription(broker.db, t.id, url, { allowPrivate: opts.allowPrivate }));
  await broker.audit.record({ tenantId: t.id, actor, action: "webhook.create", outcome: "success", requestId: opts.requestId, detail: { webhookId: created.subscription.id, url } });
  return { webhook: created.subscription, secret: created.secret };
}

export async function removeAuditWebhook(broker: Broker, actor: AuditActor, slug: string, webhookId: string, requestId?: string) {
  const t = await broker.requireTenant(slug);
  if (!(await deleteWebhookSubscription(broker.db, t.id, webhookId))) throw new BrokerError("not_found", "no such webhook for this tenant");
  await broker.audit.record({ tenantId: t.id, actor, action: "webhook.delete", outcome: "success", requestId, detail: { webhookId } });
}
