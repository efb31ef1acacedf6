// Messages between broker instances, over PostgreSQL LISTEN/NOTIFY (in-process with PGlite).
// A lock travels with its full state so a receiving instance can enforce it without a
// database read. If the listener connection drops, notifications may have been missed, so
// the `onGap` callback re-reads state before anything is served from memory.
import type { Database } from "../db/database";

export const CLUSTER_CHANNEL = "cmek_broker_events";

export type ClusterEvent =
  | {
      type: "tenant_state";
      tenantId: string;
      state: "pending" | "active" | "locked";
      stateVersion: number;
      stateSince: string;
      lockReason: string | null;
      lockSource: string | null;
    }
  | {
      /** The lock state of one data class other than `default` (whose state is tenant_state's). */
      type: "class_state";
      tenantId: string;
      classId: string;
      dataClass: string;
      state: "pending" | "active" | "locked";
      stateVersion: number;
      stateSince: string;
      lockReason: string | null;
      lockSource: string | null;
    }
  | { type: "tenant_changed"; tenantId: string }
  | { type: "tokens_changed"; tenantId: string }
  | { type: "governance_changed"; tenantId: string }
  | { type: "ack"; tenantId: string; stateVersion: number; appliedAt: number; /** Set for a class_state ack. */ classId?: string }
  | { type: "heartbeat"; cachedTenants: number }
  | { type: "probe_request"; tenantId: string; revokedAt?: string }
  /** A failover drill: until `until` (epoch ms) every instance unwraps the class's cache misses through its secondary. */
  | { type: "failover_drill"; tenantId: string; classId: string | null; until: number };

export type Envelope = ClusterEvent & { origin: string; sentAt: number };

export class ClusterBus {
  private handlers: Array<(e: Envelope) => void> = [];
  private gapHandlers: Array<() => void> = [];
  private unlisten: (() => Promise<void>) | null = null;
  /** False while the listener is down: notifications may be missed, so memory must not be trusted. */
  connected = false;

  constructor(
    private readonly db: Database,
    readonly instanceId: string,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(
      CLUSTER_CHANNEL,
      (payload) => {
        let e: Envelope;
        try {
          e = JSON.parse(payload) as Envelope;
        } catch {
          // Not one of ours (every instance publishes JSON): nothing to act on.
          return;
        }
        for (const h of this.handlers) h(e);
      },
      {
        onDisconnect: () => {
          this.connected = false;
        },
        onReconnect: () => {
          this.connected = true;
          for (const g of this.gapHandlers) g();
        },
      },
    );
    this.connected = true;
  }

  onEvent(handler: (e: Envelope) => void): void {
    this.handlers.push(handler);
  }

  onGap(handler: () => void): void {
    this.gapHandlers.push(handler);
  }

  async publish(event: ClusterEvent): Promise<void> {
    const envelope: Envelope = { ...event, origin: this.instanceId, sentAt: Date.now() };
    await this.db.notify(CLUSTER_CHANNEL, JSON.stringify(envelope));
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
  }
}
