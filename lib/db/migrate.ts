// Applies prisma/migrations/*/migration.sql in name order, each once, in its own transaction.
// A checksum per migration catches an edited migration that was already applied.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "./database";

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");

// Any fixed number: serialises migrations of instances starting together on one PostgreSQL.
const MIGRATION_LOCK_ID = 7_240_113;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
    await tx.query(`CREATE TABLE IF NOT EXISTS "_cmek_migrations" (
      "name" TEXT PRIMARY KEY, "checksum" TEXT NOT NULL, "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const done = new Map((await tx.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM "_cmek_migrations"`)).map((r) => [r.name, r.checksum]));
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const name of names) {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const previous = done.get(name);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${name} was edited after it was applied (checksum differs); add a new migration instead`);
        result.alreadyApplied.push(name);
        continue;
      }
      try {
        await tx.exec(sql);
      } catch (e) {
        throw new Error(`migration ${name} failed: ${(e as Error).message}`, { cause: e });
      }
      await tx.query(`INSERT INTO "_cmek_migrations" (name, checksum) VALUES ($1, $2)`, [name, checksum]);
      result.applied.push(name);
    }
    return result;
  });
}
