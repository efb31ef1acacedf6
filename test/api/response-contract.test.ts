// The serializer that holds answers to their declared schemas, on a real Fastify instance with
// routes registered the way the API registers them, and the opaque-schema finder the contract
// test relies on, checked against schemas that are and are not declared to their leaves.
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { errorHandler } from "@/lib/http/errors";
import { openApiDocument } from "@/lib/http/openapi";
import { registerRoute, type RouteDef, type RouteEnv } from "@/lib/http/route";
import { ZError } from "@/lib/http/schemas";
import { countOpaque, OpenApiValidator, type OpenApiDoc } from "../support/openapi-validator";

const logged: Array<Record<string, unknown>> = [];
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
  logged.length = 0;
});

async function serve(defs: Array<RouteDef<any, any, any>>, nodeEnv: "production" | "test" = "test"): Promise<FastifyInstance> {
  app = Fastify({ logger: { level: "error", stream: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } } });
  app.setErrorHandler(errorHandler);
  // Public routes never touch the broker; the serializer reads only its configured NODE_ENV.
  const env = { ctx: { config: { NODE_ENV: nodeEnv } } } as unknown as RouteEnv;
  for (const d of defs) registerRoute(app, env, d);
  await app.ready();
  return app;
}

const route = (over: Partial<RouteDef<any, any, any>>): RouteDef<any, any, any> => ({
  method: "GET",
  url: "/x",
  summary: "test",
  tag: "test",
  access: "public",
  responses: { 200: z.object({ plaintext: z.string() }) },
  handler: async () => ({ plaintext: "aGk=" }),
  ...over,
});

describe("answers are serialized through their declared schema", () => {
  test("in production, members the schema does not declare are stripped", async () => {
    const a = await serve([route({ handler: async () => ({ plaintext: "aGk=", dek: "secret-material" }) })], "production");
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ plaintext: "aGk=" });
  });

  test("outside production, an undeclared member is a logged 500 naming its path", async () => {
    const a = await serve([route({ handler: async () => ({ plaintext: "aGk=", nested: { dek: "secret-material" } }) })]);
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(500);
    expect(r.json().error.code).toBe("internal_error");
    const line = logged.find((l) => l.msg === "response does not match its declared schema");
    expect(line).toMatchObject({ route: "GET /x", status: 200, issues: [{ path: "nested", code: "unrecognized_keys" }, { path: "nested.dek", code: "unrecognized_keys" }] });
    expect(JSON.stringify(logged)).not.toContain("secret-material");
  });

  test("a payload sent with reply.send is held to the schema of the status it is sent with", async () => {
    const a = await serve([route({ responses: { 201: z.object({ id: z.string() }) }, handler: async ({ reply }) => reply.code(201).send({ id: "1", extra: true }) })], "production");
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toEqual({ id: "1" });
  });

  test("a payload that does not match is a logged 500 internal_error, and the log names paths, never values", async () => {
    const a = await serve([route({ handler: async () => ({ plaintext: 987654321987, note: "do-not-log-me" }) })]);
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(500);
    expect(r.json().error.code).toBe("internal_error");
    const line = logged.find((l) => l.msg === "response does not match its declared schema");
    expect(line).toMatchObject({ route: "GET /x", status: 200, issues: [{ path: "plaintext", code: "invalid_type" }] });
    expect(JSON.stringify(logged)).not.toContain("do-not-log-me");
    expect(JSON.stringify(logged)).not.toContain("987654321987");
  });

  test("a JSON body on a success status the route does not declare is a 500", async () => {
    const a = await serve([route({ handler: async ({ reply }) => reply.code(202).send({ plaintext: "aGk=" }) })]);
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(500);
    expect(ZError.parse(r.json()).error.code).toBe("internal_error");
  });

  test("bad input stays a 400 invalid_request in the error envelope, whether or not the route declares 400", async () => {
    const a = await serve([route({ method: "POST", body: z.strictObject({ n: z.number() }), handler: async () => ({ plaintext: "" }) })]);
    const r = await a.inject({ method: "POST", url: "/x", payload: { n: "one" } });
    expect(r.statusCode).toBe(400);
    const body = ZError.parse(r.json());
    expect(body.error).toMatchObject({ code: "invalid_request", issues: [{ path: "n" }] });
  });

  test("in production, an error's undeclared extras are stripped; its declared ones are kept", async () => {
    const { BrokerError } = await import("@/lib/broker/errors");
    const a = await serve([route({ handler: async () => { throw new BrokerError("tenant_locked", "locked", { reason: "kill_switch: x", since: "2026-01-01T00:00:00.000Z", internal: "no" }); } })], "production");
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(423);
    expect(r.json()).toEqual({ error: { code: "tenant_locked", message: "locked", reason: "kill_switch: x", since: "2026-01-01T00:00:00.000Z" } });
  });

  test("bodies declared as other media types (text, streams) are sent as produced", async () => {
    const a = await serve([route({ responses: { 200: { description: "text", media: ["text/plain"] } }, handler: async ({ reply }) => reply.type("text/plain").send("# HELP x\n") })]);
    const r = await a.inject({ method: "GET", url: "/x" });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe("# HELP x\n");
  });
});

describe("the opaque-schema finder", () => {
  const docOf = (schema: z.ZodType) => openApiDocument([{ method: "GET", url: "/x", summary: "", tag: "", access: "public", responses: { 200: schema } }]) as unknown as OpenApiDoc;
  const opaqueOf = (schema: z.ZodType) => countOpaque(docOf(schema)).opaque.filter((o) => !o.includes(" default "));

  test("flags free-form records, bare passthrough objects, open objects, unknown values and nested ones", () => {
    const has = (schema: z.ZodType, finding: string) => expect(opaqueOf(schema)).toContain(`GET /x 200 application/json${finding}`);
    has(z.record(z.string(), z.unknown()), ": object without declared properties");
    has(z.object({}).passthrough(), ": object without declared properties");
    has(z.object({ a: z.string() }).loose(), ": object open to undeclared members");
    has(z.object({ a: z.object({ health: z.record(z.string(), z.number()) }) }), ".a.health: object without declared properties");
    has(z.object({ detail: z.unknown() }), ".detail: accepts anything");
    has(z.object({ list: z.array(z.object({}).catchall(z.unknown())) }), ".list[]: object without declared properties");
  });

  test("passes schemas declared to their leaves, including nullable, optional, unions and enums", () => {
    const full = z.object({
      a: z.string().nullable(),
      b: z.array(z.object({ c: z.number().int(), d: z.enum(["x", "y"]) })),
      e: z.union([z.object({ f: z.boolean() }), z.null()]).optional(),
      g: z.discriminatedUnion("k", [z.object({ k: z.literal("one"), v: z.null() }), z.object({ k: z.literal("two"), v: z.strictObject({ w: z.string() }) })]),
    });
    expect(opaqueOf(full)).toEqual([]);
    // The error envelope every operation documents as its default answer is declared too.
    expect(countOpaque(docOf(full)).opaque).toEqual([]);
  });

  test("the validator rejects answers that differ from the document: wrong type, extra member, undocumented status or media type", () => {
    const v = new OpenApiValidator(docOf(z.object({ n: z.number().int(), at: z.iso.datetime() })));
    const json = "application/json; charset=utf-8";
    expect(() => v.check("GET", "/x", { status: 200, contentType: json, text: '{"n":1,"at":"2026-01-01T00:00:00.000Z"}' })).not.toThrow();
    expect(() => v.check("GET", "/x", { status: 200, contentType: json, text: '{"n":"1","at":"2026-01-01T00:00:00.000Z"}' })).toThrow(/does not match/);
    expect(() => v.check("GET", "/x", { status: 200, contentType: json, text: '{"n":1,"at":"yesterday"}' })).toThrow(/does not match/);
    expect(() => v.check("GET", "/x", { status: 200, contentType: json, text: '{"n":1,"at":"2026-01-01T00:00:00.000Z","x":1}' })).toThrow(/does not match/);
    expect(() => v.check("GET", "/x", { status: 201, contentType: json, text: "{}" })).toThrow(/not documented/);
    expect(() => v.check("GET", "/x", { status: 200, contentType: "text/html", text: "<p>" })).toThrow(/not documented/);
    expect(() => v.check("GET", "/x", { status: 418, contentType: json, text: '{"error":{"code":"teapot","message":"m"}}' })).toThrow(/does not match/);
  });
});
