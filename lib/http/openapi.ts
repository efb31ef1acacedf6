// OpenAPI 3.1 generated from the routes' own schemas: requests as zod parses them (io "input"),
// responses as the serializer sends them (io "output"), errors as the common envelope.
import { z, type ZodType } from "zod";
import { isZodSchema, type ResponseDecl, type ResponseMap } from "./contract";
import { ZError } from "./schemas/errors";

/** The parts of a route the document is made of (a structural subset of RouteDef). */
export interface RouteDoc {
  method: string;
  url: string;
  summary: string;
  tag: string;
  access: string;
  body?: ZodType;
  rawBody?: { description: string };
  headers?: ZodType;
  query?: ZodType;
  responses: ResponseMap;
}

const inputSchema = (s: ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
const outputSchema = (s: ZodType) => z.toJSONSchema(s, { io: "output", unrepresentable: "any" });

function responseObject(status: string, d: ResponseDecl) {
  if (typeof d === "string") return { description: d };
  if (isZodSchema(d)) return { description: d.description ?? (status.startsWith("2") ? "OK" : "Error"), content: { "application/json": { schema: outputSchema(d) } } };
  const media = (type: string) => {
    // JSON under its own specification (the OpenAPI document) is described, not re-schemed here.
    if (type === "application/json") return {};
    return { schema: { type: "string" }, ...(d.itemSchema ? { "x-itemSchema": outputSchema(d.itemSchema) } : {}) };
  };
  return { description: d.description, content: Object.fromEntries(d.media.map((t) => [t, media(t)])) };
}

export function openApiDocument(defs: RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of defs) {
    const path = d.url.replace(/:(\w+)/g, "{$1}");
    const responses: Record<string, unknown> = Object.fromEntries(Object.entries(d.responses).map(([status, s]) => [status, responseObject(status, s)]));
    responses.default = { description: "Any other error (for example 415 for a body that is not JSON, 500 for a server fault)", content: { "application/json": { schema: outputSchema(ZError) } } };
    const op: Record<string, unknown> = {
      summary: d.summary,
      tags: [d.tag],
      security: d.access === "public" ? [] : [{ bearer: [] }],
      parameters: [...(d.url.match(/:(\w+)/g) ?? []).map((p) => ({ name: p.slice(1), in: "path", required: true, schema: { type: "string" } }))],
      responses,
    };
    if (d.query) {
      const q = inputSchema(d.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        (op.parameters as unknown[]).push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (d.headers) {
      const hs = inputSchema(d.headers) as { properties?: Record<string, { description?: string }>; required?: string[] };
      for (const [name, schema] of Object.entries(hs.properties ?? {})) {
        (op.parameters as unknown[]).push({ name, in: "header", required: hs.required?.includes(name) ?? false, description: schema.description, schema });
      }
    }
    if (d.body) op.requestBody = { required: true, content: { "application/json": { schema: inputSchema(d.body) } } };
    if (d.rawBody) op.requestBody = { required: true, description: d.rawBody.description, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } };
    paths[path] = { ...(paths[path] ?? {}), [d.method.toLowerCase()]: op };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "cmek-broker API",
      version: "1",
      description:
        "Envelope encryption under each tenant's own KMS key. Errors are {\"error\": {\"code\", \"message\"}}. Every JSON answer is serialized through the schema documented here for its status. Sequential bodies (text/event-stream) document each item's schema under x-itemSchema.",
    },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
