// Assembles one broker instance: database (migrated), audit writer, KMS providers, the broker
// context (broker-context.ts) with its background loops, HTTP API and, for the full server, Next.js behind the same listener. server.ts, the tests
// and the benchmarks all start instances through here.
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { prepareConsoleAuth } from "../auth/bootstrap";
import { CLIENT_ADDRESS_HEADER } from "../auth/config-shared";
import { AuditLiveFeed, applyRetention, CheckpointScheduler, WebhookDispatcher } from "../audit";
import { AuditWriter, NoopAuditSink } from "../audit/writer";
import type { BrokerConfig } from "../config/env";
import { openDatabase, type Database } from "../db/database";
import { migrate } from "../db/migrate";
import type { ConsoleSessionResolver } from "../auth/caller";
import { buildApi, isApiPath } from "../http/app";
import type { RouteEnv } from "../http/route";
import { createKmsProviders, type KmsProviders } from "../kms/registry";
import { createBrokerContext, startBrokerContext, type BrokerContext } from "./broker-context";
import type { Logger } from "../observability/logger";

export interface RuntimeOptions {
  config: BrokerConfig;
  /** Serve the console too (production server). Tests of the API leave it off. */
  withNext?: boolean;
  projectDir?: string;
  providers?: KmsProviders;
  db?: Database;
  resolveSession?: ConsoleSessionResolver;
  extraRoutes?: Array<(env: RouteEnv) => void>;
  /** The broker's logger (vendor-side KMS faults); default: a pino logger at BROKER_LOG_LEVEL. */
  logger?: Logger;
}

export interface BrokerRuntime {
  /** The instance's services; operations (lib/broker/operations) take it as `ctx`. */
  ctx: BrokerContext;
  api: FastifyInstance;
  db: Database;
  audit: AuditWriter | NoopAuditSink;
  url: string;
  port: number;
  close(): Promise<void>;
}

type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startBrokerRuntime(opts: RuntimeOptions): Promise<BrokerRuntime> {
  const { config } = opts;
  const ownsDb = !opts.db;
  const db = opts.db ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: path.join(config.DATA_DIR, "pglite") }));
  await migrate(db);
  // The console's session cookie is accepted by the API only where the console runs.
  const resolveSession = opts.resolveSession ?? (opts.withNext ? prepareConsoleAuth(config, db) : undefined);
  const audit =
    config.BROKER_AUDIT === "on"
      ? new AuditWriter(db, {
          durability: config.BROKER_AUDIT_DURABILITY,
          onError: (err, n) => console.error(`audit: a batch of ${n} entries failed: ${(err as Error).message}`),
        })
      : new NoopAuditSink();
  const providers = opts.providers ?? createKmsProviders(config);
  const ctx = createBrokerContext({ db, config, providers, audit, logger: opts.logger });
  const loops = await startBrokerContext(ctx);
  const auditServices = await startAuditServices(db, audit, config.demo || config.BROKER_WEBHOOK_ALLOW_PRIVATE === "on");

  let nextHandler: NodeHandler | null = null;
  let closeNext: (() => Promise<void>) | null = null;
  if (opts.withNext) {
    const { default: next } = await import("next");
    const projectDir = opts.projectDir ?? process.cwd();
    const nextApp = next({ dev: config.NODE_ENV === "development", dir: projectDir, hostname: config.HOST, port: config.PORT, customServer: true });
    await nextApp.prepare();
    const handle = nextApp.getRequestHandler();
    nextHandler = (req, res) => void handle(req, res);
    closeNext = () => nextApp.close();
    // Server components reach the same context through this handle (same process, same memory).
    (globalThis as { __cmekBroker?: BrokerContext }).__cmekBroker = ctx;
  }

  const api = await buildApi({
    ctx,
    adminToken: config.BROKER_ADMIN_TOKEN,
    resolveSession,
    logLevel: config.BROKER_LOG_LEVEL,
    extraRoutes: opts.extraRoutes,
    audit: auditServices.routeEnv,
    serverFactory: (fastifyHandler) =>
      http.createServer((req, res) => {
        if (!nextHandler || isApiPath(req.url)) fastifyHandler(req, res);
        else {
          req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? "";
          nextHandler(req, res);
        }
      }),
  });
  await api.listen({ port: config.PORT, host: config.HOST });
  const port = (api.server.address() as AddressInfo).port;
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${port}`;

  return {
    ctx,
    api,
    db,
    audit,
    url,
    port,
    async close() {
      await api.close();
      await closeNext?.();
      await loops.stop();
      await auditServices.stop();
      await audit.close();
      if (ownsDb) await db.close();
    },
  };
}

/**
 * Everything that hangs off the audit writer: signed checkpoints, webhook deliveries, the live
 * feed for SSE and retention pruning. Nothing of it runs when auditing is off.
 */
async function startAuditServices(db: Database, audit: AuditWriter | NoopAuditSink, allowPrivateWebhooks: boolean) {
  if (!(audit instanceof AuditWriter)) return { routeEnv: {}, stop: async () => {} };
  const checkpoints = new CheckpointScheduler(db, audit);
  checkpoints.start();
  const webhooks = new WebhookDispatcher(db, audit, { onError: (e) => console.error(`audit webhooks: ${(e as Error).message}`) });
  await webhooks.start();
  const feed = new AuditLiveFeed(db);
  feed.attach(audit);
  const retention = setInterval(() => void applyRetention(db).catch((e) => console.error(`audit retention: ${(e as Error).message}`)), 3_600_000);
  retention.unref();
  return {
    routeEnv: { auditFeed: feed, webhooks, allowPrivateWebhooks },
    async stop() {
      clearInterval(retention);
      feed.close();
      await webhooks.stop();
      await checkpoints.stop();
    },
  };
}
