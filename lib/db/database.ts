// One handle on the database: Prisma for the domain's CRUD, raw SQL for what Prisma
// cannot do well (batched audit inserts, advisory locks, LISTEN/NOTIFY).
// PostgreSQL when DATABASE_URL is set; otherwise embedded PGlite in ./data.
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaClient } from "./generated/client";
import { PRIVATE_DIR_MODE, restrictTree } from "./file-modes";
import { CONNECT_TIMEOUT_MS, PgListener, reservedSession, type Report } from "./pg-connections";
import type { ListenGapHandlers, ReservedSession, ReserveSessionOptions, Row, SqlExecutor } from "./sessions";

export type { ListenGapHandlers, ReservedSession, ReserveSessionOptions, Row, SqlExecutor } from "./sessions";

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



// Synchronous: the pool connects on first use (openDatabase turns a throw here into its rejection).
function openPostgres(url: string, poolSize: number, report: Report): Database {
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
            return (Array.isArray(res) ? res[res.length - 1]!.rows : res.rows) as Row[];
          }
          await client.query(begin);
        }
        return (await client.query(sql, params as unknown[])).rows as Row[];
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
    reserveSession() {
      return Promise.resolve({
        query: async (sql: string, params?: unknown[]) => (await db.query(sql, params)).rows as never,
        exec: async (sql: string) => {
          await db.exec(sql);
        },
        // One embedded connection: nothing to give back.
        release() {},
        lost: false,
      });
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
