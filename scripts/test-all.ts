// `npm test`: every test. Unit and integration tests (vitest, real PostgreSQL, emulators, SDKs),
// then the browser tests (Playwright + Debian chromium against the production build).
// Ends with one plain line "N passed, N failed, N skipped" summing both runners.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const bin = (name: string) => path.join(root, "node_modules/.bin", name);
const resultsDir = path.join(root, "test-results");
mkdirSync(resultsDir, { recursive: true });

const PG_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function ensurePostgres(): Promise<void> {
  if (await postgresReachable()) return;
  // A Debian machine whose cluster is merely stopped: start it, as the machine's own init would.
  const clusters = existsSync("/etc/postgresql") ? spawnSync("ls", ["/etc/postgresql"], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean) : [];
  for (const v of clusters) spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", v, "main", "start"], { stdio: "inherit" });
  for (let i = 0; i < 20 && !(await postgresReachable()); i++) await new Promise((r) => setTimeout(r, 500));
  if (!(await postgresReachable())) {
    console.error(`PostgreSQL is not reachable at ${PG_URL}. Integration tests need a real PostgreSQL server:\n` + "  set TEST_POSTGRES_URL to a superuser URL, or install one (Debian: apt-get install postgresql).");
    process.exit(2);
  }
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): number {
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
  return r.status ?? 1;
}

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

function vitestTally(file: string): Tally {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0 };
  const j = JSON.parse(readFileSync(file, "utf8")) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number; numFailedTestSuites: number };
  return { passed: j.numPassedTests, failed: j.numFailedTests + (j.numFailedTests === 0 ? j.numFailedTestSuites : 0), skipped: j.numPendingTests + j.numTodoTests };
}

function playwrightTally(file: string): Tally {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0 };
  const j = JSON.parse(readFileSync(file, "utf8")) as { stats: { expected: number; unexpected: number; flaky: number; skipped: number }; errors?: unknown[] };
  return { passed: j.stats.expected + j.stats.flaky, failed: j.stats.unexpected + (j.errors?.length ?? 0), skipped: j.stats.skipped };
}

await ensurePostgres();

const only = process.argv.slice(2);
const total: Tally = { passed: 0, failed: 0, skipped: 0 };
const add = (t: Tally) => {
  total.passed += t.passed;
  total.failed += t.failed;
  total.skipped += t.skipped;
};

const vitestJson = path.join(resultsDir, "vitest.json");
rmSync(vitestJson, { force: true });
console.log("\n== unit and integration tests (vitest) ==");
run(bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${vitestJson}`, ...only], { TEST_POSTGRES_URL: PG_URL });
add(vitestTally(vitestJson));

if (process.env.BROKER_SKIP_E2E === "1" || only.length > 0) {
  console.log("\n(browser tests skipped: BROKER_SKIP_E2E=1 or a test filter was given)");
} else {
  console.log("\n== browser tests (Playwright, chromium, production build) ==");
  const buildStatus = run(bin("next"), ["build"], { NODE_ENV: "production" });
  if (buildStatus !== 0) {
    add({ passed: 0, failed: 1, skipped: 0 });
  } else {
    const e2eJson = path.join(resultsDir, "e2e.json");
    rmSync(e2eJson, { force: true });
    run(bin("playwright"), ["test", "--reporter=list,json"], { PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJson, TEST_POSTGRES_URL: PG_URL });
    add(playwrightTally(e2eJson));
  }
}

console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);
