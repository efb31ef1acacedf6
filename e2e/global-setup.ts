// Builds the console if the production build is missing or older than its sources, then
// starts the e2e stack in a child process and hands its details to the tests.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FullConfig } from "@playwright/test";

const root = path.resolve(import.meta.dirname, "..");
const SOURCES = ["app", "components", "lib", "public", "next.config.mjs"];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let max = s.mtimeMs;
  for (const e of readdirSync(p)) if (e !== "generated") max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

function ensureBuild(): void {
  const buildId = path.join(root, ".next", "BUILD_ID");
  const builtAt = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  const changedAt = Math.max(...SOURCES.map((s) => newestMtime(path.join(root, s))));
  if (process.env.E2E_SKIP_BUILD === "1" && builtAt) return;
  if (builtAt > changedAt) return;
  console.log("e2e: building the console (next build)…");
  const r = spawnSync(path.join(root, "node_modules/.bin/next"), ["build"], { cwd: root, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } });
  if (r.status !== 0) throw new Error("next build failed");
}

async function waitForFile(file: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file)) return;
    if (child.exitCode !== null) throw new Error(`e2e stack exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("e2e stack did not start in time");
}

export default async function globalSetup(_config: FullConfig) {
  // Development loop: reuse a stack started by hand (tsx e2e/support/stack.ts <file>).
  const reuse = process.env.E2E_STACK_FILE;
  if (reuse && existsSync(reuse)) {
    process.env.E2E_STACK = readFileSync(reuse, "utf8");
    return async () => {};
  }
  ensureBuild();
  const infoFile = path.join(tmpdir(), `cmek-e2e-stack-${process.pid}.json`);
  rmSync(infoFile, { force: true });
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["e2e/support/stack.ts", infoFile], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    // node_modules/.bin first: the project's Node 24, not whatever `node` the shell has.
    env: { ...process.env, PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`, E2E_PORT: process.env.E2E_PORT ?? "3917" },
  });
  await waitForFile(infoFile, child, 120_000);
  process.env.E2E_STACK = readFileSync(infoFile, "utf8");
  rmSync(infoFile, { force: true });
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  };
}
