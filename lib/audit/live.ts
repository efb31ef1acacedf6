// In-process fan-out of durable audit rows to per-tenant listeners (the console's SSE feed).
// It only sees rows this instance wrote; a client of another instance gets that instance's
// rows, and a reconnecting client can fill gaps from the list API using the seq it last saw.
import type { AuditEventRecord } from "./canonical";
import type { DurableListener } from "./writer";

export type LiveListener = (event: AuditEventRecord) => void;

export class AuditLiveFeed {
  private readonly byTenant = new Map<string, Set<LiveListener>>();
  private detach: (() => void) | null = null;

  /** Starts forwarding a writer's durable batches. */
  attach(source: { onDurable(l: DurableListener): () => void }): void {
    this.detach?.();
    this.detach = source.onDurable((events) => this.publish(events));
  }

  subscribe(tenantId: string, listener: LiveListener): () => void {
    const key = tenantId.toLowerCase();
    let set = this.byTenant.get(key);
    if (!set) this.byTenant.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byTenant.get(key) === set) this.byTenant.delete(key);
    };
  }

  publish(events: AuditEventRecord[]): void {
    if (this.byTenant.size === 0) return;
    for (const ev of events) {
      const set = this.byTenant.get(ev.tenantId);
      if (!set) continue;
      for (const l of set) {
        try {
          l(ev);
        } catch {
          // One broken SSE connection must not starve the others.
        }
      }
    }
  }

  subscriberCount(tenantId?: string): number {
    if (tenantId) return this.byTenant.get(tenantId.toLowerCase())?.size ?? 0;
    let n = 0;
    for (const s of this.byTenant.values()) n += s.size;
    return n;
  }

  close(): void {
    this.detach?.();
    this.detach = null;
    this.byTenant.clear();
  }
}

/** Formats one event as a Server-Sent Events message; `id` is the seq so clients can resume with Last-Event-ID. */
export function sseMessage(ev: AuditEventRecord): string {
  return `id: ${ev.seq}\nevent: audit\ndata: ${JSON.stringify(ev)}\n\n`;
}
