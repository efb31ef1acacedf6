import { defineConfig } from "prisma/config";

// The CLI is only used for `prisma generate` here: migrations are plain SQL under
// prisma/migrations applied by scripts/db-migrate.ts (the CLI's schema engine
// cannot be downloaded on an offline machine).
export default defineConfig({
  schema: "prisma/schema.prisma",
});
