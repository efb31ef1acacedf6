// A route is declared once: its schemas validate the request and feed the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import type { AuditLiveFeed } from "../audit/live";
import type { BrokerContext } from "../broker/context";
import type { RequestAdmission } from "./admission";
import type { Access, Caller, ConsoleSessionResolver } from "./auth";
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
  /**
   * Called before refusing a known caller with the wrong credential, so data routes can audit it.
   * Unauthenticated refusals are counted and summarized instead (lib/broker/auth-refusals.ts).
   */
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
    // Outside production an undeclared member fails loudly instead of being stripped (contract.ts).
    preSerialization: responseSerializer(def, { rejectUndeclared: env.ctx?.config.NODE_ENV !== "production" }),
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
