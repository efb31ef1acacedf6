// A route is declared once: its schemas validate the request and feed the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z, type ZodType } from "zod";
import type { AuditLiveFeed } from "../audit/live";
import type { BrokerContext } from "../broker/context";
import { authorize, resolveCaller, type Access, type Caller, type ConsoleSessionResolver } from "./auth";

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
  /** The permission-table action the route performs (lib/auth/permissions.ts), or "public". */
  access: Access;
  params?: ZodType<P>;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  responses: Record<number, ZodType | string>;
  handler: (ctx: RouteContext<B, Q, P>) => Promise<unknown>;
  /** Called before a refusal for missing or wrong credentials, so data routes can audit it. */
  onRefused?: (ctx: { params: P; requestId: string; error: unknown; caller: Caller | null }) => Promise<void>;
}

export interface RouteEnv {
  ctx: BrokerContext;
  adminTokenHash: Buffer | undefined;
  resolveSession?: ConsoleSessionResolver;
  /** Live audit events of every instance (SSE); absent when auditing is off. */
  auditFeed?: AuditLiveFeed;
  webhooks?: { refresh(): Promise<void> | void };
  /** Demo only: emulators and local receivers live on loopback. */
  allowPrivateWebhooks?: boolean;
}

export const routes: RouteDef<any, any, any>[] = [];

export function defineRoute<B = undefined, Q = undefined, P = undefined>(def: RouteDef<B, Q, P>): RouteDef<B, Q, P> {
  routes.push(def);
  return def;
}

export function registerRoute(app: FastifyInstance, env: RouteEnv, def: RouteDef<any, any, any>): void {
  app.route({
    method: def.method,
    url: def.url,
    handler: async (req, reply) => {
      const params = def.params ? def.params.parse(req.params) : req.params;
      const caller = def.access === "public" ? null : await resolveCaller(req, env.ctx, env.adminTokenHash, env.resolveSession);
      try {
        if (def.access !== "public") authorize(caller, def.access, (params as { slug?: string }).slug);
      } catch (error) {
        await def.onRefused?.({ params, requestId: req.id, error, caller });
        throw error;
      }
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
