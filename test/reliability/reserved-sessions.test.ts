// Connections a component keeps for itself (the audit writer's, the webhook dispatcher's lock
// connection) across a PostgreSQL restart, in this process: pg-pool removes its error listener
// from a checked-out client, so before the fix the server's 57P01 "terminating connection due
// to administrator command" was an unhandled 'error' event and killed the process (here: the
// test worker). Now the session reports the loss, refuses further use with a typed error, and
// the writer and a new reservation work again once the server is back.
import { afterAll, beforeAll, expect, test } from "vitest";
import { openDatabase, type Database } from "@/lib/db/database";
import { DatabaseUnavailableError, isDatabaseUnavailable } from "@/lib/db/errors";
import { migrate } from "@/lib/db/migrate";
import { AuditWriter } from "@/lib/audit/writer";
import { createTenant, sampleEntry } from "../audit/helpers";
import { startPgCluster, type PgCluster } from "./pg-cluster";

let cluster: PgCluster;
let db: Database;
const background: Array<{ task: string; message: string }> = [];

beforeAll(async () => {
  cluster = await startPgCluster();
  db = await openDatabase({ databaseUrl: await cluster.createDatabase("cmek_sessions"), onBackgroundError: (task, e) => background.push({ task, message: (e as Error).message }) });
  await migrate(db);
}, 60_000);
afterAll(async () => {
  await db?.close();
  cluster?.destroy();
});

test("a PostgreSQL restart: reserved sessions report the loss instead of crashing the process; the audit writer and new sessions work again", async () => {
  const tenant = await createTenant(db);
  const writer = new AuditWriter(db);
  await writer.record(sampleEntry(tenant, 1)); // the writer now holds its reserved connection
  const lost: unknown[] = [];
  const session = await db.reserveSession({ onLost: (e) => lost.push(e) });
  await session.query("SELECT pg_try_advisory_lock(1, 2)");
  // Idle pooled clients and a checked-out transaction client, too.
  await Promise.all([db.query("SELECT 1"), db.query("SELECT 2")]);

  cluster.restart();
  await cluster.waitAccepting();
  // The loss is reported as soon as the client notices it (polled: it arrives as a socket event).
  const deadline = Date.now() + 5000;
  while (lost.length === 0) {
    if (Date.now() > deadline) throw new Error("the reserved session never reported its lost connection");
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(session.lost).toBe(true);
  const err = await session.query("SELECT 1").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatabaseUnavailableError);
  expect(isDatabaseUnavailable(err)).toBe(true);
  expect(background.some((b) => b.task === "db.connection")).toBe(true);

  // Recovery: the writer replaces its lost connection before its next batch, a new reservation works.
  await writer.record(sampleEntry(tenant, 2));
  const fresh = await db.reserveSession();
  expect((await fresh.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(1, 2) AS ok"))[0]!.ok).toBe(true);
  fresh.release();
  const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE tenant_id = $1", [tenant]);
  expect(rows[0]!.n).toBe(2);
  await writer.close();
}, 60_000);
