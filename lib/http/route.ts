// A route is declared once: its schemas validate the request and feed the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AuditLiveFeed } from "../audit/live";
import type { BrokerContext } from "../broker/context";
import type { RequestAdmission } from "./admission";
import type { ConsoleSessionResolver } from "./auth";
import { responseSerializer } from "./contract";
import type { AnyRouteDef, RouteDef } from "./route-def";
import { QUORUM_ACTIONS, ZApprovalPending } from "../contracts/quorum";

function isQuorumAction(access: string): boolean {
  return (QUORUM_ACTIONS as readonly string[]).includes(access);
}

export { openApiDocument } from "./openapi";
export type { MediaResponse, ResponseDecl, ResponseMap } from "./contract";
export type { AnyRouteDef, RouteContext, RouteDef } from "./route-def";

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

export const routes: AnyRouteDef[] = [];

export function defineRoute<B = undefined, Q = undefined, P = undefined>(def: RouteDef<B, Q, P>): RouteDef<B, Q, P> {
  // A protected action may answer 202 with a pending approval request instead of running.
  if (def.access !== "public" && isQuorumAction(def.access)) def.responses = { 202: ZApprovalPending, ...def.responses };
  routes.push(def);
  return def;
}

export function registerRoute(app: FastifyInstance, env: RouteEnv, def: AnyRouteDef): void {
  const admission = env.admission;
  if (def.access !== "public" && !admission) throw new Error(`route ${def.method} ${def.url} needs the request admission`);
  app.route({
    method: def.method,
    url: def.url,
    // Outside production an undeclared member fails loudly instead of being stripped (contract.ts).
    preSerialization: responseSerializer(def, { rejectUndeclared: env.ctx?.config.NODE_ENV !== "production" }),
    ...(def.bodyLimit ? { bodyLimit: def.bodyLimit.bytes } : {}),
    // Read by the error handler (413 message) and the octet-stream parser (lib/http/app.ts).
    config: { bodyTooLarge: def.bodyLimit?.message, rawBody: def.rawBody !== undefined },
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
