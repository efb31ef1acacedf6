// Assembles one broker instance: database (migrated), audit writer, KMS providers, broker,
// HTTP API and, for the full server, Next.js behind the same listener. server.ts, the tests
// and the benchmarks all start instances through here.
import type http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance, FastifyListenOptions } from "fastify";
import { prepareConsoleAuth } from "../auth/bootstrap";
import type { ConsoleSessionResolver } from "../auth/caller";
import { CLIENT_ADDRESS_HEADER } from "../auth/config-shared";
import { AuditLiveFeed, applyRetention, CheckpointScheduler, WebhookDispatcher } from "../audit";
import { AuditWriter, NoopAuditSink } from "../audit/writer";
import type { Clock } from "../broker/clock";
import type { BrokerConfig } from "../config/env";
import { openDatabase, type Database } from "../db/database";
import { restrictTree } from "../db/file-modes";
import { migrate } from "../db/migrate";
import { buildApi, isApiPath } from "../http/app";
import type { RouteEnv } from "../http/route";
import { KmipCredentialStore } from "../broker/kmip-credentials";
import { createKmsProviders, type KmsProviders } from "../kms/registry";
import type { BackgroundErrors } from "../observability/background-errors";
import { createLogger, type Logger } from "../observability/logger";
import { createBrokerContext, startBrokerContext, type BrokerContext } from "./broker-context";
import { createDrainingServer } from "./http-server";

export interface RuntimeOptions {
  config: BrokerConfig;
  /** Serve the console too (production server). Tests of the API leave it off. */
  withNext?: boolean;
  projectDir?: string;
  providers?: KmsProviders;
  db?: Database;
  resolveSession?: ConsoleSessionResolver;
  extraRoutes?: Array<(env: RouteEnv) => void>;
  /** The instance's logger (default: one at BROKER_LOG_LEVEL on stdout). */
  logger?: Logger;
  /** "Now" for governance (access windows, break-glass, usage baselines); tests inject one. */
  clock?: Clock;
}

export interface BrokerRuntime {
  /** The instance's services; operations (lib/broker/operations) take it as `ctx`. */
  ctx: BrokerContext;
  api: FastifyInstance;
  db: Database;
  audit: AuditWriter | NoopAuditSink;
  url: string;
  port: number;
  logger: Logger;
  /** Failures of background loops, logged and counted in cmek_background_errors_total{task}. */
  background: BackgroundErrors;
  /** Stops everything; with `drainMs` (server.ts passes BROKER_SHUTDOWN_DRAIN_MS on SIGTERM) the listener drains first. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startBrokerRuntime(opts: RuntimeOptions): Promise<BrokerRuntime> {
  const { config } = opts;
  const ownsDb = !opts.db;
  const logger = opts.logger ?? createLogger({ level: config.BROKER_LOG_LEVEL, instanceId: config.instanceId });
  // Registered on the broker's metrics once the broker exists; failures before that are only logged.
  let background: BackgroundErrors | null = null;
  const reportBackground = (task: string, err: unknown) =>
    background ? background.report(task, err) : logger.warn({ task, err }, `background task ${task} failed`);
  const db =
    opts.db ??
    (await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: path.join(config.DATA_DIR, "pglite"), onBackgroundError: reportBackground }));
  await migrate(db);
  // The console's session cookie is accepted by the API only where the console runs.
  const resolveSession = opts.resolveSession ?? (opts.withNext ? prepareConsoleAuth(config, db) : undefined);
  const audit =
    config.BROKER_AUDIT === "on"
      ? new AuditWriter(db, {
          durability: config.BROKER_AUDIT_DURABILITY,
          onError: (err, n) => reportBackground("audit.writer", Object.assign(new Error(`a batch of ${n} entries failed: ${(err as Error)?.message}`), { cause: err })),
        })
      : new NoopAuditSink();
  const kmipCredentials = new KmipCredentialStore(db, config);
  const providers = opts.providers ?? createKmsProviders(config, { kmipCredentials });
  const ctx = createBrokerContext({ db, config, providers, audit, logger, clock: opts.clock, kmipCredentials });
  const backgroundErrors = ctx.backgroundErrors;
  if (audit instanceof AuditWriter) {
    // Entries per group commit (entries / batches) is what the audit write path's cost per entry turns on.
    ctx.metrics.gauge("cmek_audit_batches_committed", "Audit group commits since start", () => audit.stats().batches);
    ctx.metrics.gauge("cmek_audit_entries_committed", "Audit entries committed since start", () => audit.stats().entries);
    ctx.metrics.gauge("cmek_audit_chain_conflicts", "Audit batches relinked because another instance extended the chain first, since start", () => audit.stats().chainConflicts);
  }
  background = backgroundErrors;
  const loops = await startBrokerContext(ctx);
  const auditServices = await startAuditServices(db, audit, config.demo || config.BROKER_WEBHOOK_ALLOW_PRIVATE === "on", backgroundErrors);
  // Everything this instance wrote into DATA_DIR (embedded database, generated secrets, emulator keys) is for its user only.
  restrictTree(config.DATA_DIR);

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
    // Server components reach the same broker through this handle (same process, same memory).
    (globalThis as { __cmekBroker?: BrokerContext }).__cmekBroker = ctx;
  }

  let listener: ReturnType<typeof createDrainingServer> | null = null;
  const api = await buildApi({
    ctx,
    adminToken: config.BROKER_ADMIN_TOKEN,
    resolveSession,
    logLevel: config.BROKER_LOG_LEVEL,
    extraRoutes: opts.extraRoutes,
    audit: auditServices.routeEnv,
    serverFactory: (fastifyHandler) => {
      listener = createDrainingServer({
        keepAliveTimeoutMs: config.BROKER_KEEP_ALIVE_TIMEOUT_MS,
        handler: (req, res) => {
          if (!nextHandler || isApiPath(req.url)) fastifyHandler(req, res);
          else {
            // The sign-in throttle keys on the client address (lib/auth/throttle.ts); a client-sent value is overwritten.
            req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? "";
            nextHandler(req, res);
          }
        },
      });
      return listener.server;
    },
  });
  // reusePort is node's listen option (Linux SO_REUSEPORT); Fastify passes listen options through
  // to server.listen, but its type does not declare this one yet.
  const listenOptions: FastifyListenOptions & { reusePort?: boolean } = { port: config.PORT, host: config.HOST, ...(config.BROKER_REUSE_PORT === "on" ? { reusePort: true } : {}) };
  await api.listen(listenOptions);
  const port = (api.server.address() as AddressInfo).port;
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${port}`;

  return {
    ctx,
    api,
    db,
    audit,
    url,
    port,
    logger,
    background: backgroundErrors,
    async close(closeOpts) {
      const drainable = listener as ReturnType<typeof createDrainingServer> | null;
      if (closeOpts?.drainMs !== undefined && drainable) {
        const left = await drainable.drain(closeOpts.drainMs);
        if (left) logger.warn({ requests: left }, "shutdown: requests still in flight after the drain time were cut off");
      }
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
async function startAuditServices(db: Database, audit: AuditWriter | NoopAuditSink, allowPrivateWebhooks: boolean, background: BackgroundErrors) {
  if (!(audit instanceof AuditWriter)) return { routeEnv: {}, stop: async () => {} };
  const checkpoints = new CheckpointScheduler(db, audit, { onError: (e) => background.report("audit.checkpoints", e) });
  checkpoints.start();
  const webhooks = new WebhookDispatcher(db, audit, { allowPrivate: allowPrivateWebhooks, onError: (e) => background.report("audit.webhooks", e) });
  await webhooks.start();
  const feed = new AuditLiveFeed(db, { onError: (e) => background.report("audit.live", e) });
  feed.attach(audit);
  const retention = setInterval(() => void background.guard("audit.retention", () => applyRetention(db)), 3_600_000);
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
