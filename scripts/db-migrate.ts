// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (or the embedded database in
// DATA_DIR). The server also does this at every start; this is for deploy pipelines.
import path from "node:path";
import { ConfigError, loadDatabaseConfig } from "../lib/config/env";
import { openDatabase } from "../lib/db/database";
import { migrate } from "../lib/db/migrate";

let config: ReturnType<typeof loadDatabaseConfig>;
try {
  config = loadDatabaseConfig();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(1);
}
const db = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: path.join(config.DATA_DIR, "pglite") });
try {
  const r = await migrate(db);
  console.log(`${db.kind}: applied ${r.applied.length} migration(s)${r.applied.length ? ` (${r.applied.join(", ")})` : ""}; ${r.alreadyApplied.length} already applied`);
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
} finally {
  await db.close();
}
