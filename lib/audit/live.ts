// Live fan-out of durable audit rows to per-tenant listeners (the console's SSE feed), for the
// rows of every instance. Rows this instance wrote are handed over at once when they continue the
// sequence already delivered; anything else (rows another instance wrote, seen as a gap or by
// the poll) is read from the database in seq order. So each listener gets every row of its
// tenant from the moment it subscribed, in order, exactly once.
import type { Database } from "../db/database";
import { readEventsAfter } from "./chain";
import type { AuditEventRecord } from "./canonical";
import { readHeads, type DurableListener } from "./writer";

export type LiveListener = (event: AuditEventRecord) => void;

export interface AuditLiveFeedOptions {
  /** How often watched tenants are checked for rows other instances wrote (default 1 s). */
  pollMs?: number;
  /** Told about failed catch-up reads (a database outage); the next poll retries. */
  onError?: (err: unknown) => void;
}

interface TenantFeed {
  listeners: Set<LiveListener>;
  /** Highest seq handed to the listeners; everything up to it has been delivered. */
  cursor: number;
  catchingUp: boolean;
  again: boolean;
}

const PAGE = 500;

export class AuditLiveFeed {
  private readonly byTenant = new Map<string, TenantFeed>();
  private readonly starting = new Map<string, Promise<TenantFeed>>();
  private detach: (() => void) | null = null;
  private readonly poll: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly opts: AuditLiveFeedOptions = {},
  ) {
    this.poll = setInterval(() => {
      for (const [tenantId, feed] of this.byTenant) this.catchUp(tenantId, feed);
    }, opts.pollMs ?? 1000);
    this.poll.unref();
  }

  /** Starts taking this instance's durable batches from the writer. */
  attach(source: { onDurable(l: DurableListener): () => void }): void {
    this.detach?.();
    this.detach = source.onDurable((events) => this.publish(events));
  }

  /** Resolves once the listener is in place: it receives every row made durable after that. */
  async subscribe(tenantId: string, listener: LiveListener): Promise<() => void> {
    const key = tenantId.toLowerCase();
    const feed = this.byTenant.get(key) ?? (await this.start(key));
    feed.listeners.add(listener);
    return () => {
      feed.listeners.delete(listener);
      if (feed.listeners.size === 0 && this.byTenant.get(key) === feed) this.byTenant.delete(key);
    };
  }

  private start(tenantId: string): Promise<TenantFeed> {
    let p = this.starting.get(tenantId);
    if (!p) {
      p = (async () => {
        // The head now (or, if every row was pruned, the last checkpoint's): rows after it are new.
        const head = (await readHeads(this.db, [tenantId])).get(tenantId);
        const existing = this.byTenant.get(tenantId);
        if (existing) return existing;
        const feed: TenantFeed = { listeners: new Set(), cursor: head?.seq ?? 0, catchingUp: false, again: false };
        this.byTenant.set(tenantId, feed);
        return feed;
      })().finally(() => this.starting.delete(tenantId));
      this.starting.set(tenantId, p);
    }
    return p;
  }

  publish(events: AuditEventRecord[]): void {
    if (this.byTenant.size === 0) return;
    for (const ev of events) {
      const feed = this.byTenant.get(ev.tenantId);
      if (!feed || ev.seq <= feed.cursor) continue;
      if (ev.seq === feed.cursor + 1 && !feed.catchingUp) this.deliver(feed, ev);
      // A gap: rows between were written by another instance; read them all in order.
      else this.catchUp(ev.tenantId, feed);
    }
  }

  private deliver(feed: TenantFeed, ev: AuditEventRecord): void {
    feed.cursor = ev.seq;
    for (const l of feed.listeners) {
      try {
        l(ev);
      } catch {
        // One broken SSE connection must not starve the others.
      }
    }
  }

  private catchUp(tenantId: string, feed: TenantFeed): void {
    if (this.closed) return;
    if (feed.catchingUp) {
      feed.again = true;
      return;
    }
    feed.catchingUp = true;
    void (async () => {
      try {
        do {
          feed.again = false;
          const events = await readEventsAfter(this.db, tenantId, feed.cursor, PAGE);
          for (const ev of events) if (ev.seq > feed.cursor) this.deliver(feed, ev);
          if (events.length === PAGE) feed.again = true;
        } while (feed.again && !this.closed && feed.listeners.size > 0);
      } catch (e) {
        // The next poll or batch tries again; the listeners keep their place.
        this.opts.onError?.(e);
      } finally {
        feed.catchingUp = false;
      }
    })();
  }

  subscriberCount(tenantId?: string): number {
    if (tenantId) return this.byTenant.get(tenantId.toLowerCase())?.listeners.size ?? 0;
    let n = 0;
    for (const f of this.byTenant.values()) n += f.listeners.size;
    return n;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    this.detach?.();
    this.detach = null;
    this.byTenant.clear();
  }
}

/** Formats one event as a Server-Sent Events message; `id` is the seq so clients can resume with Last-Event-ID. */
export function sseMessage(ev: AuditEventRecord): string {
  return `id: ${ev.seq}\nevent: audit\ndata: ${JSON.stringify(ev)}\n\n`;
}
