// The lean HTTP API (DESIGN.md: the data path cannot afford Next.js route handlers).
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import Fastify, { errorCodes, LogController, type FastifyInstance } from "fastify";
import type { ConsoleSessionResolver } from "../auth/caller";
import type { BrokerContext } from "../broker/context";
import { hashToken } from "../broker/service-tokens";
import { errorHandler, sendError } from "./errors";
import { registerRoute, routes, type RouteEnv } from "./route";
import { auditRoutes } from "./routes/audit";
import { dataRoutes } from "./routes/data";
import { dataBatchRoutes } from "./routes/data-batch";
import { dataStreamRoutes } from "./routes/data-stream";
import { systemRoutes } from "./routes/system";
import { tenantRoutes } from "./routes/tenants";
import { classRoutes } from "./routes/classes";
import { consoleRoutes } from "./routes/console";
import { fleetRoutes } from "./routes/fleet";
import { kmsEventRoutes } from "./routes/kms-events";
import { drillRoutes } from "./routes/drill";
import { governanceRoutes } from "./routes/governance";
import { lifecycleRoutes } from "./routes/lifecycle";
import { secondaryKeyRoutes } from "./routes/secondary-keys";
import { quorumRoutes } from "./routes/quorum";
import { accountRoutes } from "./routes/account";
import { MAX_PLAINTEXT_BYTES } from "./schemas";
import { RequestAdmission } from "./admission";
import { AuthRefusalRecorder } from "../broker/auth-refusals";

export interface ApiOptions {
  ctx: BrokerContext;
  adminToken: string | undefined;
  resolveSession?: ConsoleSessionResolver;
  logLevel?: string;
  /** Lets server.ts own the listener and hand non-API requests to Next.js. */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  /** Extra route groups (audit, events, drills) registered by their modules. */
  extraRoutes?: Array<(env: RouteEnv) => void>;
  audit?: Pick<RouteEnv, "auditFeed" | "webhooks" | "allowPrivateWebhooks">;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: opts.logLevel ?? "info",
      // Bodies hold plaintext and tokens: never log them, nor the Authorization header.
      serializers: {
        req: (req) => ({ method: req.method, url: req.url, id: req.id }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    },
    // Per-request lines would cost throughput on the data path; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // base64 of 1 MiB plus JSON framing, context and purpose.
    bodyLimit: Math.ceil((MAX_PLAINTEXT_BYTES * 4) / 3) + 64 * 1024,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    serverFactory: opts.serverFactory,
    return503OnClosing: true,
  });
  // Callback style: an async hook costs a promise and a microtask hop on every answer.
  app.addHook("onSend", (req, reply, payload, done) => {
    reply.header("x-request-id", req.id);
    reply.header("cache-control", "no-store");
    reply.header("x-content-type-options", "nosniff");
    done(null, payload);
  });
  app.setErrorHandler(errorHandler);
  // Event Grid's CloudEvents deliveries are JSON under their own media types.
  app.addContentTypeParser(/^application\/cloudevents(-batch)?\+json/, { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));
  // Stream routes (lib/http/routes/data-stream.ts) read the raw request stream, unbuffered and
  // unlimited (backpressure end to end); every other route refuses octet-stream as before.
  app.addContentTypeParser("application/octet-stream", (req, payload, done) => {
    if ((req.routeOptions.config as { rawBody?: boolean }).rawBody) done(null, payload);
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE("application/octet-stream"), undefined);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, "not_found", 404, `no route ${req.method} ${req.url.split("?")[0]}`));

  const env: RouteEnv = {
    ctx: opts.ctx,
    adminTokenHash: opts.adminToken ? hashToken(opts.adminToken) : undefined,
    resolveSession: opts.resolveSession,
    ...opts.audit,
  };
  const refusals = new AuthRefusalRecorder({
    metrics: opts.ctx.metrics.registry,
    audit: opts.ctx.audit,
    tenantBySlug: (slug) => opts.ctx.registry.getBySlug(slug),
    onError: (err) => app.log.warn({ err: { message: (err as Error)?.message } }, "auth refusal summary not written"),
  });
  env.admission = new RequestAdmission(env, refusals, { maxInflightPerTenant: opts.ctx.config.BROKER_TENANT_MAX_INFLIGHT });
  refusals.start();
  // Written while the audit writer is still open (the runtime closes the API first).
  app.addHook("onClose", () => refusals.stop());
  routes.length = 0;
  for (const group of [
    tenantRoutes,
    classRoutes,
    dataRoutes,
    dataBatchRoutes,
    dataStreamRoutes,
    auditRoutes,
    systemRoutes,
    consoleRoutes,
    fleetRoutes,
    kmsEventRoutes,
    drillRoutes,
    governanceRoutes,
    lifecycleRoutes,
    secondaryKeyRoutes,
    quorumRoutes,
    accountRoutes,
    ...(opts.extraRoutes ?? []),
  ])
    group(env);
  for (const r of routes) registerRoute(app, env, r);
  await app.ready();
  return app;
}

export function isApiPath(url: string | undefined): boolean {
  if (!url) return false;
  return url.startsWith("/api/v1/") || url === "/api/v1" || url.startsWith("/api/health") || url.startsWith("/api/metrics");
}
