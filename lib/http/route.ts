// A route is declared once: its schemas validate the request and feed the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import type { AuditLiveFeed } from "../audit/live";
import type { BrokerContext } from "../broker/context";
import { authorize, resolveCaller, type Access, type Caller, type ConsoleSessionResolver } from "./auth";
import { responseSerializer, type ResponseMap } from "./contract";

export { openApiDocument } from "./openapi";
export type { MediaResponse, ResponseDecl, ResponseMap } from "./contract";

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
  /** Per status: the JSON body's schema (the answer is serialized through it), or a non-JSON body (lib/http/contract.ts). */
  responses: ResponseMap;
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
    // Outside production an undeclared member fails loudly instead of being stripped (contract.ts).
    preSerialization: responseSerializer(def, { rejectUndeclared: env.ctx?.config.NODE_ENV !== "production" }),
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
