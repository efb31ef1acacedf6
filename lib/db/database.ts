// One handle on the database: Prisma for the domain's CRUD, raw SQL for what Prisma
// cannot do well (batched audit inserts, advisory locks, LISTEN/NOTIFY).
// PostgreSQL when DATABASE_URL is set; otherwise embedded PGlite in ./data.
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaClient } from "./generated/client";
import { DatabaseUnavailableError } from "./errors";
import { PRIVATE_DIR_MODE, restrictTree } from "./file-modes";

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements, without parameters. */
  exec(sql: string): Promise<void>;
}

/** A connection held by one user until released (the audit writer, the webhook dispatcher's locks). */
export interface ReservedSession extends SqlExecutor {
  /** Gives the connection up; it is closed rather than reused, so no session setting leaks into the pool. */
  release(): void;
  /** True once the connection broke (server restart, network): every further query fails with DatabaseUnavailableError; reserve a new one. */
  readonly lost: boolean;
}

export interface ReserveSessionOptions {
  asyncCommit?: boolean;
  /** Told once when the connection breaks, so a holder of session state (advisory locks) knows it is gone. */
  onLost?: (err: unknown) => void;
}

export interface ListenGapHandlers {
  onDisconnect?: () => void;
  onReconnect?: () => void;
}

export interface Database extends SqlExecutor {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  /**
   * Runs `fn` in one transaction on one connection. `asyncCommit`: COMMIT returns once the
   * server committed, without waiting for the WAL flush (synchronous_commit = off, this transaction only).
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, opts?: { asyncCommit?: boolean }): Promise<T>;
  /**
   * A connection of its own, for one statement at a time. `asyncCommit`: its autocommitted statements
   * return once the server committed, without waiting for the WAL flush (this connection only).
   * On PGlite (one connection) it is the shared connection and the option is ignored.
   */
  reserveSession(opts?: ReserveSessionOptions): Promise<ReservedSession>;
  /**
   * Subscribes to a notification channel; resolves once listening. If the listener connection
   * drops, `gap.onDisconnect` fires at once and `gap.onReconnect` once it listens again.
   */
  listen(channel: string, onMessage: (payload: string) => void, gap?: ListenGapHandlers): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  /** Directory for embedded PGlite data; "memory://" keeps it in memory. */
  pgliteDir?: string;
  poolSize?: number;
  /** Told about connection failures (task "db.connection") and listener reconnects ("db.listen"); they never crash the process. */
  onBackgroundError?: (task: string, err: unknown) => void;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const report = opts.onBackgroundError ?? (() => {});
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.poolSize ?? 10, report) : openPglite(opts.pgliteDir ?? "./data/pglite");
}

type Report = (task: string, err: unknown) => void;

/** Longest wait for a new connection (pool or listener) before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;

async function openPostgres(url: string, poolSize: number, report: Report): Promise<Database> {
  // connectionTimeoutMillis: a server in the middle of a restart can accept a connection and never
  // answer it; without a bound such a connect would hang the request (or the listener) for good.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: "cmek-broker", connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
  // pg-pool listens for errors only on idle clients; a checked-out client (a transaction, Prisma's
  // queries, a reserved session) that loses its server (57P01 on restart, ECONNRESET) emits
  // 'error' with no listener, which would kill the process. Every client gets a listener of its own
  // for its whole life; the failed query itself still rejects, and the pool discards the client.
  pool.on("connect", (client) => {
    client.on("error", (err) => report("db.connection", err));
  });
  // Errors of idle clients: reported by the listener above as well, so nothing more to do here.
  pool.on("error", () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const listeners: Array<{ stop: () => Promise<void> }> = [];

  const query = async <T extends Row>(sql: string, params?: unknown[]) => (await pool.query(sql, params as unknown[])).rows as T[];

  return {
    kind: "postgres",
    prisma,
    query,
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn, opts) {
      const client = await pool.connect();
      const begin = opts?.asyncCommit ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN";
      let begun = false;
      // BEGIN rides along with the transaction's first statement when that one has no parameters:
      // a parameterless multi-statement query goes over the simple protocol in one round trip
      // (the audit writer's hot transaction saves two of its five that way).
      const run = async (sql: string, params?: unknown[]): Promise<Row[]> => {
        if (!begun) {
          begun = true;
          if (!params || params.length === 0) {
            const res = (await client.query(`${begin}; ${sql}`)) as unknown as pg.QueryResult | pg.QueryResult[];
            return Array.isArray(res) ? res[res.length - 1]!.rows : res.rows;
          }
          await client.query(begin);
        }
        return (await client.query(sql, params as unknown[])).rows;
      };
      try {
        const result = await fn({
          query: async (sql, params) => (await run(sql, params)) as never,
          exec: async (sql) => {
            await run(sql);
          },
        });
        if (begun) await client.query("COMMIT");
        return result;
      } catch (e) {
        // A failed ROLLBACK means the connection is gone, and with it the transaction: `e` is what matters.
        if (begun) await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async reserveSession(opts) {
      const client = await pool.connect();
      try {
        if (opts?.asyncCommit) await client.query("SET synchronous_commit = off");
      } catch (e) {
        client.release(true);
        throw e;
      }
      return reservedSession(client, opts?.onLost);
    },
    async listen(channel, onMessage, gap) {
      const listener = new PgListener(url, channel, onMessage, gap ?? {}, report);
      await listener.start();
      listeners.push(listener);
      return () => listener.stop();
    },
    async notify(channel, payload) {
      await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      await Promise.all(listeners.map((l) => l.stop()));
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * A pooled connection kept by one user. When its connection breaks it does not reconnect by
 * itself (its session state, such as advisory locks, is gone with it): it reports the loss once,
 * fails every further query with DatabaseUnavailableError, and the holder reserves a new one.
 */
function reservedSession(client: pg.PoolClient, onLost?: (err: unknown) => void): ReservedSession {
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
class PgListener {
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
      this.retryTimer = setTimeout(async () => {
        this.retryTimer = null;
        if (this.stopped) return;
        try {
          await this.connect();
          this.gap.onReconnect?.();
        } catch (err) {
          this.report("db.listen", err);
          // Capped at 1 s: each listener is down (notifications missed, memory distrusted) until it is
          // back, so it must follow the server within about a second; one connect a second is cheap.
          attempt(Math.min(delay * 2, 1000));
        }
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

async function openPglite(dir: string): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  if (!dir.startsWith("memory://")) {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  }
  const db: PGlite = await PGlite.create(dir);
  restrictTree(dir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  const unlisteners: Array<() => Promise<void>> = [];
  return {
    kind: "pglite",
    prisma,
    async query(sql, params) {
      return (await db.query(sql, params)).rows as never;
    },
    async exec(sql) {
      await db.exec(sql);
    },
    async transaction(fn, opts) {
      return db.transaction(async (tx) => {
        if (opts?.asyncCommit) await tx.exec("SET LOCAL synchronous_commit = off");
        return fn({
          // Parameterless SQL may hold several statements (as on PostgreSQL): the last one's rows are returned.
          query: async (sql, params) => {
            if (params && params.length > 0) return (await tx.query(sql, params)).rows as never;
            const results = await tx.exec(sql);
            return (results[results.length - 1]?.rows ?? []) as never;
          },
          exec: async (sql) => {
            await tx.exec(sql);
          },
        });
      });
    },
    async reserveSession() {
      return {
        query: async (sql, params) => (await db.query(sql, params)).rows as never,
        exec: async (sql) => {
          await db.exec(sql);
        },
        release() {},
        lost: false,
      };
    },
    async listen(channel, onMessage) {
      const unlisten = await db.listen(channel, onMessage);
      unlisteners.push(unlisten);
      return unlisten;
    },
    async notify(channel, payload) {
      await db.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      // Unlistening is best effort at close: the database is closed right after anyway.
      await Promise.all(unlisteners.map((u) => u().catch(() => undefined)));
      await prisma.$disconnect();
      await db.close();
    },
  };
}
