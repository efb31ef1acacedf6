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
import { isIP } from "node:net";
import type { Database, ReservedSession } from "../db/database";
import { isUuid, lockKeyOf, readEventsAfter } from "./chain";
import { AuditQueryError, assertTenantId } from "./query";
import type { DurableListener } from "./writer";

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

function subOf(r: Record<string, unknown>): WebhookSubscriptionInfo {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    url: String(r.url),
    cursorSeq: Number(r.cursor_seq),
    disabledAt: r.disabled_at === null || r.disabled_at === undefined ? null : iso(r.disabled_at),
    createdAt: iso(r.created_at),
  };
}

function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h.endsWith(".internal") || h.endsWith(".local")) return true;
  const v = isIP(h);
  if (v === 4) {
    const [a, b] = h.split(".").map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (v === 6) return h === "::1" || h === "::" || h.startsWith("fc") || h.startsWith("fd") || h.startsWith("fe80") || h.startsWith("::ffff:");
  return false;
}

/**
 * Accepts only http(s) URLs without credentials. Unless `allowPrivate`, refuses loopback,
 * private and link-local literal addresses and local names, so a tenant cannot aim the
 * broker at its own network (names resolving to private addresses are not caught here).
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
  await db.notify(WEBHOOK_CHANGED_CHANNEL, tenantId).catch(() => {});
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
  if (rows.length > 0) await db.notify(WEBHOOK_CHANGED_CHANNEL, tenantId).catch(() => {});
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

export interface WebhookDispatcherOptions {
  /** Events per POST (default 500). */
  batchSize?: number;
  /** First retry delay (default 500 ms); doubles per attempt with jitter up to maxBackoffMs. */
  baseBackoffMs?: number;
  /** Retry delay cap (default 30 s). */
  maxBackoffMs?: number;
  /** Per-attempt timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Reload of the subscriptions, and the moment a subscription whose owner died is taken over (default 5 s). */
  pollMs?: number;
  /** How often owned subscriptions look for events written by other instances (default 500 ms). */
  drainPollMs?: number;
  /** Listen on WEBHOOK_CHANGED_CHANNEL so subscriptions made on other instances are picked up at once (default true). */
  listen?: boolean;
  fetch?: typeof fetch;
  onError?: (err: unknown) => void;
}

interface SubState {
  sub: WebhookSubscriptionInfo & { secret: string };
  running: boolean;
  again: boolean;
  gone: boolean;
  /** Wakes a retry sleep early on stop(). */
  wake: (() => void) | null;
}

/** Advisory-lock namespace of webhook ownership (the audit chains use their own). */
const WEBHOOK_LOCK_NAMESPACE = 0x77656268; // "wehb"

/**
 * Delivers every tenant's audit events to its webhook subscriptions. With several instances on
 * one database each subscription is delivered by exactly one of them: the instance holding its
 * session-level advisory lock, on a connection reserved for that. If that instance dies, its
 * connection and locks go with it and another instance takes over at its next reload.
 */
export class WebhookDispatcher {
  private readonly subs = new Map<string, SubState>();
  private stopped = true;
  private pollTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  /** The connection that holds the subscription locks (a promise: drains of several subscriptions ask at once). */
  private session: Promise<ReservedSession> | null = null;
  /** Subscriptions whose lock this instance holds. */
  private readonly owned = new Set<string>();
  /** Subscriptions another instance held at the last try: not asked again before the next reload. */
  private readonly foreign = new Set<string>();
  private unsubscribeWriter: (() => void) | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly running = new Set<Promise<void>>();
  private readonly o: Required<Omit<WebhookDispatcherOptions, "fetch" | "onError">>;
  private readonly fetchFn: typeof fetch;

  constructor(
    private readonly db: Database,
    private readonly source: { onDurable(l: DurableListener): () => void } | null,
    private readonly opts: WebhookDispatcherOptions = {},
  ) {
    this.o = {
      batchSize: opts.batchSize ?? 500,
      baseBackoffMs: opts.baseBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      pollMs: opts.pollMs ?? 5_000,
      drainPollMs: opts.drainPollMs ?? 500,
      listen: opts.listen ?? true,
    };
    this.fetchFn = opts.fetch ?? fetch;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.refresh();
    this.unsubscribeWriter =
      this.source?.onDurable((events) => {
        const tenants = new Set(events.map((e) => e.tenantId));
        for (const s of this.subs.values()) if (tenants.has(s.sub.tenantId)) this.kick(s);
      }) ?? null;
    if (this.o.listen) {
      this.unlisten = await this.db
        .listen(WEBHOOK_CHANGED_CHANNEL, () => void this.refresh().catch((e) => this.opts.onError?.(e)), { onReconnect: () => void this.refresh().catch(() => {}) })
        .catch(() => null);
    }
    this.pollTimer = setInterval(() => {
      void this.refresh().catch((e) => this.opts.onError?.(e));
    }, this.o.pollMs);
    this.pollTimer.unref();
    this.drainTimer = setInterval(() => {
      for (const s of this.subs.values()) if (this.owned.has(s.sub.id)) this.kick(s);
    }, this.o.drainPollMs);
    this.drainTimer.unref();
  }

  /** Takes the subscription's lock unless another instance holds it; true when this instance delivers it. */
  private async own(id: string): Promise<boolean> {
    if (this.owned.has(id)) return true;
    if (this.foreign.has(id)) return false;
    const session = (this.session ??= this.db.reserveSession());
    try {
      const rows = await (await session).query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok`, [WEBHOOK_LOCK_NAMESPACE, lockKeyOf(id)]);
      if (rows[0]?.ok) this.owned.add(id);
      else this.foreign.add(id);
      return this.owned.has(id);
    } catch (e) {
      // The connection is gone and its locks with it: start over at the next reload.
      if (this.session === session) this.releaseSession();
      throw e;
    }
  }

  private disown(id: string): void {
    if (!this.owned.delete(id) || !this.session) return;
    void this.session
      .then((s) => s.query(`SELECT pg_advisory_unlock($1::int4, $2::int4)`, [WEBHOOK_LOCK_NAMESPACE, lockKeyOf(id)]))
      .catch(() => {});
  }

  private releaseSession(): void {
    void this.session?.then((s) => s.release()).catch(() => {});
    this.session = null;
    this.owned.clear();
  }

  /** Reloads subscriptions (call after create/delete when not listening) and kicks each. */
  async refresh(): Promise<void> {
    if (this.stopped) return;
    const rows = await this.db.query(
      `SELECT id, tenant_id, url, secret, cursor_seq, disabled_at, created_at FROM webhook_subscription WHERE disabled_at IS NULL`,
    );
    const seen = new Set<string>();
    this.foreign.clear();
    for (const r of rows) {
      const sub = { ...subOf(r), secret: String(r.secret) };
      seen.add(sub.id);
      const s = this.subs.get(sub.id);
      if (s) {
        // Keep the in-memory cursor when it is ahead of what we just read (an update raced this read).
        s.sub = { ...sub, cursorSeq: Math.max(sub.cursorSeq, s.sub.cursorSeq) };
      } else this.subs.set(sub.id, { sub, running: false, again: false, gone: false, wake: null });
    }
    for (const [id, s] of this.subs) {
      if (!seen.has(id)) {
        s.gone = true;
        s.wake?.();
        this.subs.delete(id);
        this.disown(id);
      }
    }
    for (const s of this.subs.values()) this.kick(s);
  }

  private kick(s: SubState): void {
    if (this.stopped || s.gone) return;
    if (s.running) {
      s.again = true;
      return;
    }
    s.running = true;
    const p = this.drain(s)
      .catch((e) => this.opts.onError?.(e))
      .finally(() => {
        s.running = false;
        this.running.delete(p);
        if (s.again && !this.stopped && !s.gone) {
          s.again = false;
          this.kick(s);
        }
      });
    this.running.add(p);
  }

  private async drain(s: SubState): Promise<void> {
    if (!(await this.own(s.sub.id))) return;
    while (!this.stopped && !s.gone) {
      s.again = false;
      const events = await readEventsAfter(this.db, s.sub.tenantId, s.sub.cursorSeq, this.o.batchSize);
      if (events.length === 0) return;
      const firstSeq = events[0]!.seq;
      const lastSeq = events[events.length - 1]!.seq;
      const deliveryId = randomUUID();
      const body = JSON.stringify({ deliveryId, events });
      for (let attempt = 1; ; attempt++) {
        if (this.stopped || s.gone) return;
        const ok = await this.attempt(s, deliveryId, body, firstSeq, lastSeq, attempt);
        if (ok) break;
        await this.sleep(s, this.backoff(attempt));
      }
      if (this.stopped || s.gone) return;
      await this.db.query(`UPDATE webhook_subscription SET cursor_seq = $2 WHERE id = $1 AND cursor_seq < $2`, [s.sub.id, lastSeq]);
      s.sub.cursorSeq = lastSeq;
    }
  }

  private async attempt(s: SubState, deliveryId: string, body: string, firstSeq: number, lastSeq: number, attempt: number): Promise<boolean> {
    const started = performance.now();
    const timestamp = String(Math.floor(Date.now() / 1000));
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await this.fetchFn(s.sub.url, {
        method: "POST",
        // Redirects are not followed: a receiver could otherwise bounce the broker into an internal address.
        redirect: "manual",
        signal: AbortSignal.timeout(this.o.requestTimeoutMs),
        headers: {
          "content-type": "application/json",
          "user-agent": "cmek-broker-webhooks/1",
          "x-cmek-timestamp": timestamp,
          "x-cmek-signature": signWebhook(s.sub.secret, timestamp, body),
          "x-cmek-delivery-id": deliveryId,
        },
        body,
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      error = ((e as Error)?.name === "TimeoutError" ? "timeout" : (e as Error)?.message ?? "request failed").slice(0, 200);
    }
    const latency = Math.round(performance.now() - started);
    await this.db
      .query(
        `INSERT INTO webhook_delivery (subscription_id, first_seq, last_seq, attempt, status, error, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [s.sub.id, firstSeq, lastSeq, attempt, status, error, latency],
      )
      .catch((e) => this.opts.onError?.(e));
    return error === null;
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** Math.min(attempt - 1, 20));
    // "Equal jitter": at least half the delay, so retries from many subscriptions spread out but still back off.
    return exp / 2 + Math.random() * (exp / 2);
  }

  private sleep(s: SubState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        s.wake = null;
        resolve();
      }, ms);
      s.wake = () => {
        clearTimeout(t);
        s.wake = null;
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeWriter?.();
    this.unsubscribeWriter = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = null;
    for (const s of this.subs.values()) s.wake?.();
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
    await Promise.allSettled([...this.running]);
    this.subs.clear();
    // Closing the connection releases every subscription lock at once, for the other instances.
    this.releaseSession();
  }
}


