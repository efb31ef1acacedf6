// `npm start`: with nothing configured, a complete demo on one machine: embedded PGlite in
// ./data, the three KMS emulators, the production build of the console (built on first run),
// seeded tenants, tokens and console users printed at start. With DATABASE_URL and/or cloud
// configuration it is just the production server (server.ts) with that configuration.
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigOrExit, startServer } from "../server";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);

const first = loadConfigOrExit();
const dataDir = path.resolve(first.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

if (first.demo && !process.env.BROKER_ADMIN_TOKEN) process.env.BROKER_ADMIN_TOKEN = persistedSecret(path.join(dataDir, "demo-admin-token"));
if (first.demo && !process.env.NEXTAUTH_SECRET) process.env.NEXTAUTH_SECRET = persistedSecret(path.join(dataDir, "nextauth-secret"));

let emulators: Awaited<ReturnType<typeof import("../emulators/launch").startEmulators>> | null = null;
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
  for (const [k, v] of Object.entries(emulators.brokerEnv)) if (!process.env[k]) process.env[k] = v;
  console.log(`KMS emulators: AWS ${emulators.aws.url}, Azure ${emulators.azure.vaultUrl}, GCP 127.0.0.1:${emulators.gcp.grpcPort}`);
}

if (process.env.BROKER_CONSOLE !== "off" && !existsSync(path.join(root, ".next", "BUILD_ID"))) {
  console.log("No production build yet: running `next build` once (about a minute)...");
  const r = spawnSync(path.join(root, "node_modules/.bin/next"), ["build"], { stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Demo keeps the emulators' env; a configured deployment must not silently fall back to demo mode.
const config = loadConfigOrExit({ ...process.env, BROKER_DEMO: first.demo ? "on" : "off" });
const runtime = await startServer(config);

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
