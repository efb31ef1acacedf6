// Per-tenant webhook subscriptions for audit events.
//
// Delivery reads events from the database after the subscription's cursor, not from memory:
// a restart, a receiver outage or a write by another instance never loses an event, and the
// cursor only moves after a 2xx. The writer's onDurable only wakes the dispatcher, so a slow
// receiver never slows the data path.
//
// Each POST body is `{"deliveryId": ..., "events": [...]}`; the delivery id is inside the
// signed body, so a replay cannot dodge the receiver's seen-id check by changing a header.
// Retries of one batch reuse its delivery id: a receiver that already processed it should
// answer 2xx to the duplicate.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Database } from "../db/database";
import { isUuid } from "./chain";
import { AuditQueryError, assertTenantId } from "./query";
import { isPrivateHost } from "./webhook-address";

export interface WebhookSubscriptionInfo {
  id: string;
  tenantId: string;
  url: string;
  cursorSeq: number;
  disabledAt: string | null;
  createdAt: string;
}

export interface WebhookDeliveryInfo {
  id: string;
  subscriptionId: string;
  firstSeq: number;
  lastSeq: number;
  attempt: number;
  status: number | null;
  error: string | null;
  latencyMs: number | null;
  createdAt: string;
}

export const WEBHOOK_CHANGED_CHANNEL = "cmek_audit_webhooks";

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : String(v);
}

export function subOf(r: Record<string, unknown>): WebhookSubscriptionInfo {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    url: String(r.url),
    cursorSeq: Number(r.cursor_seq),
    disabledAt: r.disabled_at === null || r.disabled_at === undefined ? null : iso(r.disabled_at),
    createdAt: iso(r.created_at),
  };
}

/**
 * Accepts only http(s) URLs without credentials. Unless `allowPrivate`, refuses literal
 * addresses outside the global unicast space and local or single-label names, so a tenant
 * cannot aim the broker at its own network. Names that resolve to such addresses are refused
 * by the dispatcher at connect time (webhook-address.ts).
 */
export function validateWebhookUrl(url: string, opts: { allowPrivate?: boolean } = {}): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AuditQueryError("webhook url is not a valid URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new AuditQueryError("webhook url must be http or https");
  if (u.username || u.password) throw new AuditQueryError("webhook url must not contain credentials");
  if (!opts.allowPrivate && isPrivateHost(u.hostname)) throw new AuditQueryError("webhook url points to a private or loopback address");
  return u;
}

/** Creates a subscription starting after the tenant's current newest entry. The secret is returned only here. */
export async function createWebhookSubscription(
  db: Database,
  tenantId: string,
  url: string,
  opts: { allowPrivate?: boolean } = {},
): Promise<{ subscription: WebhookSubscriptionInfo; secret: string }> {
  assertTenantId(tenantId);
  const u = validateWebhookUrl(url, opts);
  const secret = `whsec_${randomBytes(32).toString("base64url")}`;
  const rows = await db.query(
    `INSERT INTO webhook_subscription (id, tenant_id, url, secret, cursor_seq)
     VALUES ($1, $2, $3, $4, COALESCE((SELECT max(seq) FROM audit_event WHERE tenant_id = $2), 0))
     RETURNING id, tenant_id, url, cursor_seq, disabled_at, created_at`,
    [randomUUID(), tenantId, u.toString(), secret],
  );
  // Without the notification other instances still pick the subscription up at their next reload (pollMs).
  await db.notify(WEBHOOK_CHANGED_CHANNEL, tenantId).catch(() => undefined);
  return { subscription: subOf(rows[0]!), secret };
}

export async function listWebhookSubscriptions(db: Database, tenantId: string): Promise<WebhookSubscriptionInfo[]> {
  assertTenantId(tenantId);
  const rows = await db.query(
    `SELECT id, tenant_id, url, cursor_seq, disabled_at, created_at FROM webhook_subscription WHERE tenant_id = $1 ORDER BY created_at, id`,
    [tenantId],
  );
  return rows.map(subOf);
}

/** Deletes a subscription of this tenant (and its delivery log); false when there was none. */
export async function deleteWebhookSubscription(db: Database, tenantId: string, subscriptionId: string): Promise<boolean> {
  assertTenantId(tenantId);
  if (!isUuid(subscriptionId)) return false;
  const rows = await db.query(`DELETE FROM webhook_subscription WHERE tenant_id = $1 AND id = $2 RETURNING id`, [tenantId, subscriptionId]);
  // Without the notification other instances drop the subscription at their next reload (pollMs).
  if (rows.length > 0) await db.notify(WEBHOOK_CHANGED_CHANNEL, tenantId).catch(() => undefined);
  return rows.length > 0;
}

export async function listWebhookDeliveries(
  db: Database,
  tenantId: string,
  subscriptionId: string,
  opts: { limit?: number } = {},
): Promise<WebhookDeliveryInfo[]> {
  assertTenantId(tenantId);
  if (!isUuid(subscriptionId)) return [];
  const limit = Math.max(1, Math.min(1000, Math.trunc(opts.limit ?? 100)));
  const rows = await db.query(
    `SELECT d.id, d.subscription_id, d.first_seq, d.last_seq, d.attempt, d.status, d.error, d.latency_ms, d.created_at
       FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
      WHERE s.tenant_id = $1 AND d.subscription_id = $2 ORDER BY d.id DESC LIMIT ${limit}`,
    [tenantId, subscriptionId],
  );
  return rows.map((r) => ({
    id: String(r.id),
    subscriptionId: String(r.subscription_id),
    firstSeq: Number(r.first_seq),
    lastSeq: Number(r.last_seq),
    attempt: Number(r.attempt),
    status: r.status === null || r.status === undefined ? null : Number(r.status),
    error: r.error === null || r.error === undefined ? null : String(r.error),
    latencyMs: r.latency_ms === null || r.latency_ms === undefined ? null : Number(r.latency_ms),
    createdAt: iso(r.created_at),
  }));
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export interface VerifyWebhookOptions {
  /** Largest accepted clock difference (default 300 s). */
  toleranceSec?: number;
  /** Delivery ids already accepted; a repeat is refused as a replay, and an accepted id is added. */
  seenIds?: { has(id: string): boolean; add(id: string): unknown };
  /** The x-cmek-delivery-id header, when the receiver wants it cross-checked with the signed body. */
  deliveryId?: string;
  now?: number;
}

export type VerifyWebhookResult = { ok: true; deliveryId: string | null } | { ok: false; reason: "bad_signature" | "stale_timestamp" | "replayed" | "malformed" };

/** For receivers: checks the HMAC, the timestamp's freshness and (with seenIds) replays. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string | Buffer,
  signature: string,
  opts: VerifyWebhookOptions = {},
): VerifyWebhookResult {
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (!/^\d{1,13}$/.test(timestamp)) return { ok: false, reason: "malformed" };
  const expected = Buffer.from(signWebhook(secret, timestamp, text));
  // Several comma-separated signatures are allowed so a secret can be rotated without downtime.
  const match = signature
    .split(",")
    .map((s) => Buffer.from(s.trim()))
    .some((s) => s.length === expected.length && timingSafeEqual(s, expected));
  if (!match) return { ok: false, reason: "bad_signature" };
  const now = opts.now ?? Date.now();
  if (Math.abs(now / 1000 - Number(timestamp)) > (opts.toleranceSec ?? 300)) return { ok: false, reason: "stale_timestamp" };
  let deliveryId: string | null;
  try {
    const parsed = JSON.parse(text) as { deliveryId?: unknown };
    deliveryId = typeof parsed.deliveryId === "string" ? parsed.deliveryId : null;
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (opts.deliveryId !== undefined && opts.deliveryId !== deliveryId) return { ok: false, reason: "malformed" };
  if (opts.seenIds) {
    if (!deliveryId) return { ok: false, reason: "malformed" };
    if (opts.seenIds.has(deliveryId)) return { ok: false, reason: "replayed" };
    opts.seenIds.add(deliveryId);
  }
  return { ok: true, deliveryId };
}
