// A PostgreSQL cluster of the test's own (initdb into a temp dir, its own free port), so a test
// can restart and stop the server without touching the shared one on 5432. initdb refuses to run
// as root, so when the test runs as root the cluster belongs to the `postgres` OS user.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "../audit-api/child-broker";

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, "bin", "pg_ctl"))) return path.join(root, v, "bin");
  throw new Error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin");
}

export interface PgCluster {
  port: number;
  /** postgresql:// URL of database `name` on this cluster. */
  url(name?: string): string;
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl restart -m fast`: every connection is terminated (57P01), the server is back when this resolves. */
  restart(): void;
  stop(): void;
  start(): void;
  /** Polls until a connection succeeds; resolves with the time (Date.now()) of the first success. */
  waitAccepting(timeoutMs?: number): Promise<number>;
  destroy(): void;
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  const asRoot = userInfo().uid === 0;
  const base = mkdtempSync(path.join(tmpdir(), "cmek-pgcluster-"));
  const dataDir = path.join(base, "data");
  const logFile = path.join(base, "server.log");
  if (asRoot) {
    const pgUid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const pgGid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(base, pgUid, pgGid);
  }
  const run = (tool: string, args: string[]) => {
    const cmd = path.join(bin, tool);
    const out = asRoot ? execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" }) : execFileSync(cmd, args, { stdio: "pipe" });
    return out.toString();
  };
  const port = await freePort();
  run("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const ctl = (action: string, extra: string[] = []) => run("pg_ctl", [action, "-D", dataDir, "-w", "-t", "60", ...extra]);
  const start = () => ctl("start", ["-l", logFile, "-o", opts]);
  start();
  const url = (name = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${name}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      return url(name);
    },
    restart: () => void ctl("restart", ["-m", "fast", "-l", logFile, "-o", opts]),
    stop: () => void ctl("stop", ["-m", "fast"]),
    start: () => void start(),
    async waitAccepting(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
        c.on("error", () => undefined); // a refused connection is what is being polled for
        try {
          await c.connect();
          await c.query("SELECT 1");
          const at = Date.now();
          await c.end();
          return at;
        } catch {
          await c.end().catch(() => undefined); // not connected: nothing to close
          if (Date.now() > deadline) throw new Error(`PostgreSQL on ${port} not accepting connections after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    },
    destroy() {
      try {
        ctl("stop", ["-m", "immediate"]);
      } catch {
        // Already stopped: nothing to do but remove the files.
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
