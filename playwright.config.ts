// Browser e2e against the production build, a real PostgreSQL database and the KMS emulators
// (started by e2e/global-setup.ts). Debian's chromium, not a downloaded browser.
import { defineConfig } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 3917);

export default defineConfig({
  testDir: "./e2e",
  testMatch: "**/*.spec.ts",
  globalSetup: "./e2e/global-setup.ts",
  // One stack shared by all specs on a 2-core machine: run them one after another.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    // localhost: WebAuthn needs a host name as RP ID (e2e/quorum.spec.ts enrols a passkey).
    baseURL: `http://localhost:${port}`,
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
    viewport: { width: 1366, height: 900 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    permissions: ["clipboard-read", "clipboard-write"],
  },
});
