// `npm start`: with nothing configured, a complete demo on one machine: embedded PGlite in
// ./data, the three KMS emulators, the production build of the console (built on first run),
// seeded tenants, tokens and console users printed at start. With DATABASE_URL and/or cloud
// configuration it is just the production server (server.ts) with that configuration.
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EmulatorSet } from "../emulators/launch";
import { exitOnStartFailure, loadConfigOrExit, startServer } from "../server";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);

const first = loadConfigOrExit();
const dataDir = path.resolve(first.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

// What the demo generates and the emulators supply reaches the server as configuration (process.env is never written).
const supplied: Record<string, string> = {};
if (first.demo && !first.BROKER_ADMIN_TOKEN) supplied.BROKER_ADMIN_TOKEN = persistedSecret(path.join(dataDir, "demo-admin-token"));
if (first.demo && !first.NEXTAUTH_SECRET) supplied.NEXTAUTH_SECRET = persistedSecret(path.join(dataDir, "nextauth-secret"));

let emulators: EmulatorSet | null = null;
if (first.emulators) {
  const { emulatorPortOverrides, isEmulatorStartError, startEmulators } = await import("../emulators/launch");
  // Ports: CMEK_EMULATOR_*_PORT or --aws-port/--azure-port/--gcp-port/--gcp-control-port (README).
  try {
    emulators = await startEmulators({ dataDir, persist: true, ports: emulatorPortOverrides() });
  } catch (e) {
    if (!isEmulatorStartError(e)) throw e;
    console.error(e.message);
    process.exit(1);
  }
  // Variables set in the environment win over the emulators' (e.g. a real AWS with emulated Azure and GCP).
  for (const [k, v] of Object.entries(emulators.brokerEnv)) if (!process.env[k]) supplied[k] = v;
  console.log(`KMS emulators: AWS ${emulators.aws.url}, Azure ${emulators.azure.vaultUrl}, GCP 127.0.0.1:${emulators.gcp.grpcPort}`);
}

if (first.BROKER_CONSOLE === "on" && !existsSync(path.join(root, ".next", "BUILD_ID"))) {
  console.log("No production build yet: running `next build` once (about a minute)...");
  const r = spawnSync(path.join(root, "node_modules/.bin/next"), ["build"], { stdio: "inherit", env: { ...process.env, ...supplied, NODE_ENV: "production" } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Demo keeps the emulators' env; a configured deployment must not silently fall back to demo mode.
const config = loadConfigOrExit({ ...process.env, ...supplied, BROKER_DEMO: first.demo ? "on" : "off" });
const runtime = await startServer(config).catch(exitOnStartFailure);

if (config.demo && emulators) {
  const { seedDemo, printDemo } = await import("./demo-seed");
  const creds = await seedDemo(runtime.ctx, emulators, dataDir, config.BROKER_ADMIN_TOKEN!);
  printDemo(runtime.url, creds);
}
if (emulators) {
  const em = emulators;
  process.on("exit", () => void em.close());
}

function persistedSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const v = randomBytes(24).toString("base64url");
  writeFileSync(file, v, { mode: 0o600 });
  return v;
}
