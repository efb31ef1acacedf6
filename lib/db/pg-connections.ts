// The two kinds of PostgreSQL connection that outlive a single query: a pooled connection
// reserved by one component (the audit writer, the webhook dispatcher's lock connection) and a
// dedicated LISTEN connection. Both survive a server restart without crashing the process.
import pg from "pg";
import type { ListenGapHandlers, ReservedSession, Row } from "./sessions";
import { DatabaseUnavailableError } from "./errors";

export type Report = (task: string, err: unknown) => void;

/** Longest wait for a new connection (pool or listener) before it counts as failed. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A pooled connection kept by one user. When its connection breaks it does not reconnect by
 * itself (its session state, such as advisory locks, is gone with it): it reports the loss once,
 * fails every further query with DatabaseUnavailableError, and the holder reserves a new one.
 */
export function reservedSession(client: pg.PoolClient, onLost?: (err: unknown) => void): ReservedSession {
  let released = false;
  let lostWith: unknown = null;
  const release = () => {
    if (released) return;
    released = true;
    client.release(true);
  };
  const lose = (err: unknown) => {
    if (lostWith !== null || released) return;
    lostWith = err ?? new Error("connection ended");
    release();
    onLost?.(lostWith);
  };
  client.on("error", lose);
  client.on("end", () => lose(new DatabaseUnavailableError("reserved connection ended")));
  const query = async <T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]> => {
    if (lostWith !== null) throw new DatabaseUnavailableError("reserved connection lost", { cause: lostWith });
    if (released) throw new Error("reserved session used after release");
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (e) {
      throw lostWith !== null ? new DatabaseUnavailableError(`reserved connection lost: ${(e as Error).message}`, { cause: e }) : e;
    }
  };
  // A plain object (not a class instance) so callers may wrap it with a spread.
  return {
    query,
    exec: async (sql) => {
      await query(sql);
    },
    release,
    get lost() {
      return lostWith !== null;
    },
  };
}

/** A dedicated LISTEN connection that reconnects with backoff; a gap is reported so callers stop trusting memory and re-read state. */
export class PgListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onMessage: (payload: string) => void,
    private readonly gap: ListenGapHandlers,
    private readonly report: Report,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: "cmek-broker-listener", connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, query_timeout: CONNECT_TIMEOUT_MS });
    client.on("notification", (msg) => {
      if (msg.channel === this.channel) this.onMessage(msg.payload ?? "");
    });
    client.on("error", (err) => {
      this.report("db.listen", err);
      this.scheduleReconnect(client);
    });
    client.on("end", () => this.scheduleReconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (e) {
      // A half-open client is closed before the next attempt (not awaited: after a refused connect
      // pg's end() never resolves); its own failure adds nothing to `e`.
      void client.end().catch(() => undefined);
      throw e;
    }
    this.client = client;
  }

  private scheduleReconnect(dead: pg.Client): void {
    if (this.stopped || this.client !== dead || this.retryTimer) return;
    this.client = null;
    this.gap.onDisconnect?.();
    const attempt = (delay: number) => {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.stopped) return;
        // Dropped on purpose: a failed connect (or reconnect handler) is reported and retried here.
        void this.connect()
          .then(() => this.gap.onReconnect?.())
          .catch((err: unknown) => {
            this.report("db.listen", err);
            // Capped at 1 s: each listener is down (notifications missed, memory distrusted) until it is
            // back, so it must follow the server within about a second; one connect a second is cheap.
            attempt(Math.min(delay * 2, 1000));
          });
      }, delay);
    };
    attempt(100);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    // Ending a connection that already broke can fail; it is closed either way.
    if (c) await c.end().catch(() => undefined);
  }
}
