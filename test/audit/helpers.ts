// Throwaway PostgreSQL databases for audit tests: never the shared `test` database.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../lib/db/database";
import { migrate } from "../../lib/db/migrate";

export const PG_BASE = process.env.AUDIT_TEST_PG ?? "postgresql://postgres@127.0.0.1:5432";

export interface TestDb {
  db: Database;
  url: string;
  name: string;
  /** Opens another independent handle (another "broker instance") on the same database. */
  openAnother(): Promise<Database>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${PG_BASE}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDb(): Promise<TestDb> {
  const name = `audit_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = `${PG_BASE}/${name}`;
  const db = await openDatabase({ databaseUrl: url, poolSize: 6 });
  await migrate(db);
  const others: Database[] = [];
  return {
    db,
    url,
    name,
    async openAnother() {
      const d = await openDatabase({ databaseUrl: url, poolSize: 6 });
      others.push(d);
      return d;
    },
    async drop() {
      for (const d of others) await d.close().catch(() => {});
      await db.close().catch(() => {});
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export async function createTenant(db: Database, slug = `t-${randomBytes(4).toString("hex")}`): Promise<string> {
  const id = randomUUID();
  await db.query(`INSERT INTO tenant (id, slug, name, updated_at) VALUES ($1, $2, $3, now())`, [id, slug, slug]);
  return id;
}

export function sampleEntry(tenantId: string, i: number) {
  return {
    tenantId,
    actor: { type: "service_token" as const, id: `tok-${i % 7}`, name: "billing-svc" },
    action: (i % 2 ? "decrypt" : "encrypt") as "decrypt" | "encrypt",
    outcome: (i % 11 === 0 ? "denied" : "success") as "denied" | "success",
    provider: "aws",
    keyRef: "arn:aws:kms:us-east-1:000000000000:key/demo",
    keyVersion: null,
    dekId: `dek-${i % 3}`,
    cacheHit: i % 5 !== 0,
    latencyMs: 0.1 + (i % 13) / 7,
    bytes: 1024 + i,
    purpose: `p-${i}`,
    requestId: `req-${i}`,
    detail: i % 4 === 0 ? { z: 1, a: { y: [1, "two", null], b: true }, unicode: "é✓" } : undefined,
  };
}
