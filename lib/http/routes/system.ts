// Liveness/readiness, Prometheus metrics and the OpenAPI document.
import { defineRoute, openApiDocument, routes, type RouteEnv } from "../route";
import { ZHealthDegraded, ZHealthReady } from "../schemas/system";

export function systemRoutes(env: RouteEnv) {
  const { ctx } = env;

  defineRoute({
    method: "GET",
    url: "/api/health",
    summary: "Liveness and readiness (database reachable)",
    tag: "system",
    access: "public",
    responses: { 200: ZHealthReady.describe("ready"), 503: ZHealthDegraded.describe("not ready: the database is unreachable") },
    handler: async ({ reply }) => {
      const started = performance.now();
      try {
        await ctx.db.query("SELECT 1");
        return { status: "ok", database: "ok", databaseLatencyMs: Math.round((performance.now() - started) * 10) / 10, instance: ctx.config.instanceId };
      } catch {
        return reply.code(503).send({ status: "degraded", database: "unreachable", instance: ctx.config.instanceId });
      }
    },
  });

  defineRoute({
    method: "GET",
    url: "/api/metrics",
    summary: "Prometheus metrics of this instance",
    tag: "system",
    access: "public",
    responses: { 200: { description: "Prometheus text exposition format", media: ["text/plain"] } },
    handler: async ({ reply }) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  });

  defineRoute({
    method: "GET",
    url: "/api/v1/openapi.json",
    summary: "This document",
    tag: "system",
    access: "public",
    responses: { 200: { description: "This OpenAPI 3.1 document (its own schema is the OpenAPI 3.1 specification)", media: ["application/json"] } },
    handler: () => Promise.resolve(openApiDocument(routes)),
  });
}
