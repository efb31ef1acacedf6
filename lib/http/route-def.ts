// What a route declares (lib/http/route.ts registers it). Apart from route.ts so the request
// admission can read a route's access and schemas without importing the registry (no cycle).
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import type { Access, Caller } from "./auth";
import type { ResponseMap } from "./contract";

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
  /** A body limit of the route's own (a batch), and the message its 413 carries; the API's default otherwise. */
  bodyLimit?: { bytes: number; message: string };
  /** Set for a route whose body is a raw application/octet-stream (a stream route): its handler reads `req.body` as a stream. */
  rawBody?: { description: string };
  /** Request headers the route reads (documented as header parameters; parsed by the handler). */
  headers?: ZodType;
  /** Per status: the JSON body's schema (the answer is serialized through it), or a non-JSON body (lib/http/contract.ts). */
  responses: ResponseMap;
  handler(ctx: RouteContext<B, Q, P>): Promise<unknown>;
  /**
   * Called before refusing a known caller with the wrong credential, so data routes can audit it.
   * Unauthenticated refusals are counted and summarized instead (lib/broker/auth-refusals.ts).
   */
  onRefused?(ctx: { params: P; requestId: string; error: unknown; caller: Caller | null }): Promise<void>;
}

/**
 * A route of any schemas, as the registry holds it. Its callbacks are declared as methods, whose
 * parameters TypeScript checks bivariantly, so every RouteDef<B, Q, P> is one; what they are
 * handed is what the route's own schemas parsed.
 */
export type AnyRouteDef = RouteDef<unknown, unknown, unknown>;
