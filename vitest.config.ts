import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  // The client package is tested from its source (test/client/package.test.ts tests the built package).
  resolve: { alias: { "@cmek-broker/client": path.resolve(import.meta.dirname, "packages/client/src/index.ts"), "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests share one PostgreSQL server; files run one at a time to keep timings honest on 2 cores.
    fileParallelism: false,
  },
});
