// A route is declared once: its schemas validate the request and feed the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z, type ZodType } from "zod";
import type { AuditLiveFeed } from "../audit/live";
import type { Broker } from "../broker/broker";
import type { RequestAdmission } from "./admission";
import type { Access, Caller, ConsoleSessionResolver } from "./auth";

export interface RouteContext<B, Q, P> {
  req: FastifyRequest;
  reply: FastifyReply;
  caller: Caller | null;
  body: B;
  query: Q;
  params: P;
  requestId: string;
}

export interface RouteDef<B = unknown, Q = unknown, P = unknown> {
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS";
  url: string;
  summary: string;
  tag: string;
  access: Access;
  params?: ZodType<P>;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  responses: Record<number, ZodType | string>;
  handler: (ctx: RouteContext<B, Q, P>) => Promise<unknown>;
  /**
   * Called before refusing a known caller with the wrong credential, so data routes can audit it.
   * Unauthenticated refusals are counted and summarized instead (lib/broker/auth-refusals.ts).
   */
  onRefused?: (ctx: { params: P; requestId: string; error: unknown; caller: Caller | null }) => Promise<void>;
}

export interface RouteEnv {
  broker: Broker;
  adminTokenHash: Buffer | undefined;
  resolveSession?: ConsoleSessionResolver;
  /** Live audit events of every instance (SSE); absent when auditing is off. */
  auditFeed?: AuditLiveFeed;
  webhooks?: { refresh(): Promise<void> | void };
  /** Demo only: emulators and local receivers live on loopback. */
  allowPrivateWebhooks?: boolean;
  /** Authenticates non-public routes before their bodies are read (set by buildApi). */
  admission?: RequestAdmission;
}

export const routes: RouteDef<any, any, any>[] = [];

export function defineRoute<B = undefined, Q = undefined, P = undefined>(def: RouteDef<B, Q, P>): RouteDef<B, Q, P> {
  routes.push(def);
  return def;
}

export function registerRoute(app: FastifyInstance, env: RouteEnv, def: RouteDef<any, any, any>): void {
  const admission = env.admission;
  if (def.access !== "public" && !admission) throw new Error(`route ${def.method} ${def.url} needs the request admission`);
  app.route({
    method: def.method,
    url: def.url,
    // Authentication and authorization run before the body is read (lib/http/admission.ts).
    ...(def.access === "public" ? {} : { onRequest: (req: FastifyRequest, reply: FastifyReply) => admission!.admit(req, reply, def) }),
    handler: async (req, reply) => {
      const admitted = def.access === "public" ? undefined : admission!.admittedOf(req);
      if (def.access !== "public" && !admitted) throw new Error(`route ${def.method} ${def.url} ran without admission`);
      const params = admitted ? admitted.params : def.params ? def.params.parse(req.params) : req.params;
      const caller = admitted?.caller ?? null;
      const body = def.body ? def.body.parse(req.body ?? undefined) : undefined;
      const query = def.query ? def.query.parse(req.query) : undefined;
      return def.handler({ req, reply, caller, body, query, params, requestId: req.id });
    },
  });
}

/** OpenAPI 3.1 from the declared routes. */
export function openApiDocument(defs: RouteDef<any, any, any>[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  const json = (s: ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
  for (const d of defs) {
    const path = d.url.replace(/:(\w+)/g, "{$1}");
    const op: Record<string, unknown> = {
      summary: d.summary,
      tags: [d.tag],
      security: d.access === "public" ? [] : [{ bearer: [] }],
      parameters: [...(d.url.match(/:(\w+)/g) ?? []).map((p) => ({ name: p.slice(1), in: "path", required: true, schema: { type: "string" } }))],
      responses: Object.fromEntries(
        Object.entries(d.responses).map(([status, s]) => [
          status,
          typeof s === "string" ? { description: s } : { description: status.startsWith("2") ? "OK" : "Error", content: { "application/json": { schema: json(s) } } },
        ]),
      ),
    };
    if (d.query) {
      const q = json(d.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        (op.parameters as unknown[]).push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (d.body) op.requestBody = { required: true, content: { "application/json": { schema: json(d.body) } } };
    paths[path] = { ...(paths[path] ?? {}), [d.method.toLowerCase()]: op };
  }
  return {
    openapi: "3.1.0",
    info: { title: "cmek-broker API", version: "1", description: "Envelope encryption under each tenant's own KMS key. Errors are {\"error\": {\"code\", \"message\"}}." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
