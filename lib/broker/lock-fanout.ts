// Who the other live instances are (every bus message is a sign of life) and how long a lock took
// until all of them acknowledged it: the fan-out measurement of lib/broker/tenant-lock.ts. One
// pending measurement per (tenant, class, state version).

interface PendingAck {
  startedAt: number;
  waiting: Set<string>;
  resolve: (ms: number | null) => void;
  timer: NodeJS.Timeout;
}

const PEER_TTL_MS = 15_000;
const ACK_TIMEOUT_MS = 3_000;

/** The key of one state change: the tenant row (classId null) or one data_class row, at one version. */
export function ackKey(tenantId: string, classId: string | null | undefined, stateVersion: number): string {
  return `${tenantId}:${classId ?? ""}:${stateVersion}`;
}

export class LockFanout {
  private peers = new Map<string, number>();
  private pending = new Map<string, PendingAck>();

  constructor(private readonly selfId: string) {}

  /** Any message from `origin` shows it is alive. */
  seen(origin: string): void {
    this.peers.set(origin, Date.now());
  }

  livePeers(): string[] {
    const now = Date.now();
    return [...this.peers].filter(([id, seen]) => id !== this.selfId && now - seen < PEER_TTL_MS).map(([id]) => id);
  }

  /** Resolves with the ms until every live peer acknowledged `key`, or null (no peers, or one did not answer in time). */
  expect(key: string): Promise<number | null> {
    const live = this.livePeers();
    if (live.length === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.pending.set(key, {
        startedAt: performance.now(),
        waiting: new Set(live),
        resolve,
        timer: setTimeout(() => {
          this.pending.delete(key);
          resolve(null);
        }, ACK_TIMEOUT_MS),
      });
    });
  }

  acked(origin: string, key: string): void {
    const pending = this.pending.get(key);
    if (pending && pending.waiting.delete(origin) && pending.waiting.size === 0) {
      clearTimeout(pending.timer);
      this.pending.delete(key);
      pending.resolve(performance.now() - pending.startedAt);
    }
  }
}
