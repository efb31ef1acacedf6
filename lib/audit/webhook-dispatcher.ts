// Delivery of audit events to webhook subscriptions (see webhooks.ts for the subscriptions and
// the signature format). Events are read from the database after each subscription's cursor,
// and the cursor moves only after a 2xx, so no restart, outage or other instance loses one.
import { randomUUID } from "node:crypto";
import type { Database, ReservedSession } from "../db/database";
import { lockKeyOf, readEventsAfter } from "./chain";
import { WebhookAddressError } from "./webhook-address";
import { retryDelayMs, wakeableSleep } from "./webhook-retry";
import { postWebhook } from "./webhook-transport";
import { signWebhook, subOf, WEBHOOK_CHANGED_CHANNEL, type WebhookSubscriptionInfo } from "./webhooks";
import type { DurableListener } from "./writer";

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
  /** Deliver to loopback and private addresses too (demo mode, BROKER_WEBHOOK_ALLOW_PRIVATE=on, tests); default false. */
  allowPrivate?: boolean;
  /** Replaces the guarded transport (tests only: it bypasses the connect-time address check). */
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
      allowPrivate: opts.allowPrivate ?? false,
    };
  }

  private report(e: unknown): void {
    this.opts.onError?.(e);
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
        .listen(WEBHOOK_CHANGED_CHANNEL, () => void this.refresh().catch((e) => this.report(e)), { onReconnect: () => void this.refresh().catch((e) => this.report(e)) })
        // Without the listener, subscriptions made elsewhere are still picked up by the reload timer below.
        .catch((e) => (this.report(e), null));
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
    // When the connection breaks (a PostgreSQL restart), its locks are gone: forget ownership at
    // once, so this instance stops delivering until it holds the locks again on a new connection.
    const session = (this.session ??= this.db.reserveSession({ onLost: (e) => this.sessionLost(session, e) }));
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

  private sessionLost(session: Promise<ReservedSession>, err: unknown): void {
    this.report(err);
    if (this.session === session) this.releaseSession();
  }

  private disown(id: string): void {
    if (!this.owned.delete(id) || !this.session) return;
    void this.session
      .then((s) => s.query(`SELECT pg_advisory_unlock($1::int4, $2::int4)`, [WEBHOOK_LOCK_NAMESPACE, lockKeyOf(id)]))
      .catch((e) => this.report(e));
  }

  private releaseSession(): void {
    // A session that never connected has nothing to release; its failure was reported where it was awaited.
    void this.session?.then((s) => s.release()).catch(() => undefined);
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
      .catch((e) => this.report(e))
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
        await wakeableSleep(s, retryDelayMs(this.o.baseBackoffMs, this.o.maxBackoffMs, attempt));
      }
      if (this.stopped || s.gone) return;
      await this.db.query(`UPDATE webhook_subscription SET cursor_seq = $2 WHERE id = $1 AND cursor_seq < $2`, [s.sub.id, lastSeq]);
      s.sub.cursorSeq = lastSeq;
    }
  }

  private async attempt(s: SubState, deliveryId: string, body: string, firstSeq: number, lastSeq: number, attempt: number): Promise<boolean> {
    const started = performance.now();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = {
      "content-type": "application/json",
      "user-agent": "cmek-broker-webhooks/1",
      "x-cmek-timestamp": timestamp,
      "x-cmek-signature": signWebhook(s.sub.secret, timestamp, body),
      "x-cmek-delivery-id": deliveryId,
    };
    let status: number | null = null;
    let error: string | null = null;
    let latency: number | null = null;
    try {
      status = await this.post(s.sub.url, headers, body);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      error = ((e as Error)?.name === "TimeoutError" ? "timeout" : (e as Error)?.message ?? "request failed").slice(0, 200);
    }
    if (error === null || status !== null) latency = Math.round(performance.now() - started);
    await this.db
      .query(
        `INSERT INTO webhook_delivery (subscription_id, first_seq, last_seq, attempt, status, error, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [s.sub.id, firstSeq, lastSeq, attempt, status, error, latency],
      )
      .catch((e) => this.report(e));
    return error === null;
  }

  /**
   * The HTTP status of one POST. A refused target (non-public address) and a transport failure
   * both surface as one generic message without timing: the delivery log must not tell a tenant
   * which ports of which hosts answer (it would be a port scanner).
   */
  private async post(url: string, headers: Record<string, string>, body: string): Promise<number> {
    try {
      if (this.opts.fetch) {
        const res = await this.opts.fetch(url, { method: "POST", redirect: "manual", signal: AbortSignal.timeout(this.o.requestTimeoutMs), headers, body });
        // The body is never read; cancelling it only frees the connection sooner.
        await res.body?.cancel().catch(() => undefined);
        return res.status;
      }
      return await postWebhook(url, { headers, body, timeoutMs: this.o.requestTimeoutMs, allowPrivate: this.o.allowPrivate });
    } catch (e) {
      if ((e as Error)?.name === "TimeoutError") throw e;
      if (e instanceof WebhookAddressError || (e as { cause?: unknown })?.cause instanceof WebhookAddressError) {
        throw new Error("refused: the webhook host is not a public address", { cause: e });
      }
      throw new Error("connection failed", { cause: e });
    }
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
    // Unlistening at stop is best effort: the listener connection is closed with the database anyway.
    await this.unlisten?.().catch(() => undefined);
    this.unlisten = null;
    await Promise.allSettled([...this.running]);
    this.subs.clear();
    // Closing the connection releases every subscription lock at once, for the other instances.
    this.releaseSession();
  }
}


