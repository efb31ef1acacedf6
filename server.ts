// The one listener: the broker's Fastify API for /api/v1/**, /api/health and /api/metrics,
// Next.js (console, next-auth) for everything else. `npm start` (scripts/start.ts) prepares a
// demo around it; in production run `tsx server.ts` with real configuration (see README).
import { pathToFileURL } from "node:url";
import { ConfigError, loadConfig, type BrokerConfig } from "./lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "./lib/runtime/broker-runtime";

export async function startServer(config: BrokerConfig): Promise<BrokerRuntime> {
  // Whatever the server writes (DATA_DIR: embedded database, secrets, demo credentials) is for its own user only.
  process.umask(0o077);
  const runtime = await startBrokerRuntime({ config, withNext: config.BROKER_CONSOLE === "on" });
  console.log(`cmek-broker listening on ${runtime.url} (instance ${config.instanceId}, database ${runtime.db.kind})`);
  let closing = false;
  // SIGTERM drains: no new connections, requests in flight finish (up to BROKER_SHUTDOWN_DRAIN_MS),
  // requests arriving meanwhile get 503 shutting_down with Retry-After; then everything stops.
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: draining for up to ${config.BROKER_SHUTDOWN_DRAIN_MS} ms, then shutting down`);
    // A stop that hangs (a database that never answers) must not keep the process from exiting.
    setTimeout(() => process.exit(1), config.BROKER_SHUTDOWN_DRAIN_MS + 15_000).unref();
    let code = 0;
    await runtime.close({ drainMs: config.BROKER_SHUTDOWN_DRAIN_MS }).catch((e) => {
      console.error(e);
      code = 1;
    });
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return runtime;
}

/** The validated configuration; on a configuration problem, its message alone (no stack trace) and exit 1. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): BrokerConfig {
  try {
    return loadConfig(env);
  } catch (e) {
    exitOnStartFailure(e);
  }
}

/** A start that failed: a configuration problem prints its message alone, anything else its stack; exit 1 either way. */
export function exitOnStartFailure(e: unknown): never {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  startServer(loadConfigOrExit()).catch(exitOnStartFailure);
}
