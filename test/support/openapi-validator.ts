// Validates real HTTP answers against a published OpenAPI 3.1 document with a JSON Schema
// 2020-12 validator (ajv), independent of the zod schemas the document was generated from, and
// finds response schemas that do not declare what they hold.
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

export interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

type JsonSchema = Record<string, unknown>;
interface MediaObject {
  schema?: JsonSchema;
  "x-itemSchema"?: JsonSchema;
}
interface ResponseObject {
  description: string;
  content?: Record<string, MediaObject>;
}
interface Operation {
  responses: Record<string, ResponseObject>;
}
export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

export class OpenApiValidator {
  /** Statuses answered per operation ("GET /api/v1/…/{slug}"). */
  readonly seen = new Map<string, Set<number>>();
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });
  private readonly compiled = new Map<JsonSchema, ValidateFunction>();
  private readonly templates: Array<{ template: string; re: RegExp }>;

  constructor(private readonly doc: OpenApiDoc) {
    addFormats(this.ajv);
    // Literal paths before templated ones, so /audit/verify never matches /audit/{x}.
    this.templates = Object.keys(doc.paths)
      .map((template) => ({ template, re: new RegExp(`^${template.replace(/\{\w+\}/g, "[^/]+")}$`) }))
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
  }

  /** The documented response for this answer's status and media type; throws when there is none. */
  private responseFor(method: string, path: string, a: Answer): { op: string; media: string | null; doc: MediaObject | null } {
    const bare = path.split("?")[0]!;
    const t = this.templates.find((x) => x.re.test(bare) && this.doc.paths[x.template]![method.toLowerCase()]);
    if (!t) throw new Error(`${method} ${bare}: not in the document`);
    const op = `${method.toUpperCase()} ${t.template}`;
    if (!this.seen.has(op)) this.seen.set(op, new Set());
    this.seen.get(op)!.add(a.status);
    const responses = this.doc.paths[t.template]![method.toLowerCase()]!.responses;
    const r = responses[String(a.status)] ?? (a.status >= 400 ? responses.default : undefined);
    if (!r) throw new Error(`${op}: status ${a.status} is not documented`);
    if (!r.content) {
      if (a.text !== "") throw new Error(`${op} ${a.status}: documented without a body, got ${a.text.slice(0, 200)}`);
      return { op, media: null, doc: null };
    }
    const media = (a.contentType ?? "").split(";")[0]!.trim();
    const m = r.content[media];
    if (!m) throw new Error(`${op} ${a.status}: media type ${media} is not documented (${Object.keys(r.content).join(", ")})`);
    return { op, media, doc: m };
  }

  private validate(schema: JsonSchema, value: unknown, where: string): void {
    let fn = this.compiled.get(schema);
    if (!fn) this.compiled.set(schema, (fn = this.ajv.compile(schema)));
    if (!fn(value)) throw new Error(`${where}: does not match the document: ${this.ajv.errorsText(fn.errors, { separator: "; " })}`);
  }

  /** Validates one answer; JSON bodies against the documented schema for their status. */
  check(method: string, path: string, a: Answer): void {
    const r = this.responseFor(method, path, a);
    if (!r.doc || !r.media) return;
    if (r.media === "application/json") {
      const body: unknown = JSON.parse(a.text);
      if (r.doc.schema) this.validate(r.doc.schema, body, `${r.op} ${a.status}`);
    } else if (r.doc.schema) {
      this.validate(r.doc.schema, a.text, `${r.op} ${a.status}`);
    }
  }

  /** Validates a Server-Sent Events answer: each event's data against the documented x-itemSchema. Returns the data. */
  checkSse(method: string, path: string, a: Answer): unknown[] {
    const r = this.responseFor(method, path, a);
    if (r.media !== "text/event-stream" || !r.doc?.["x-itemSchema"]) throw new Error(`${r.op}: no documented event stream item schema`);
    const items: unknown[] = [];
    for (const block of a.text.split("\n\n")) {
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      const item: unknown = JSON.parse(data);
      this.validate(r.doc["x-itemSchema"], item, `${r.op} event`);
      items.push(item);
    }
    return items;
  }
}

/**
 * Response schemas that do not say what they hold: objects without declared properties or open
 * to undeclared ones (free-form maps included), arrays without items, and schemas that accept
 * anything. Walks every response of every operation, nested schemas included.
 */
export function countOpaque(doc: OpenApiDoc): { opaque: string[]; successResponses: number } {
  const opaque: string[] = [];
  let successResponses = 0;
  const walk = (s: unknown, where: string): void => {
    if (!s || typeof s !== "object") return;
    const n = s as JsonSchema;
    const types = ([] as unknown[]).concat(n.type ?? []);
    const composed = ["anyOf", "oneOf", "allOf"].filter((k) => Array.isArray(n[k]));
    const objectish = types.includes("object") || "properties" in n || "additionalProperties" in n || "propertyNames" in n;
    if (objectish) {
      const props = (n.properties ?? {}) as Record<string, unknown>;
      if (Object.keys(props).length === 0) opaque.push(`${where}: object without declared properties`);
      else if (n.additionalProperties !== false) opaque.push(`${where}: object open to undeclared members`);
      for (const [k, v] of Object.entries(props)) walk(v, `${where}.${k}`);
      if (n.additionalProperties && typeof n.additionalProperties === "object") walk(n.additionalProperties, `${where}[*]`);
    }
    if (types.includes("array")) {
      if (!n.items && !n.prefixItems) opaque.push(`${where}: array without items`);
      walk(n.items, `${where}[]`);
      for (const [i, v] of ((n.prefixItems ?? []) as unknown[]).entries()) walk(v, `${where}[${i}]`);
    }
    for (const k of composed) for (const [i, v] of (n[k] as unknown[]).entries()) walk(v, `${where}<${k}[${i}]>`);
    if (types.length === 0 && composed.length === 0 && !("const" in n) && !("enum" in n) && !("not" in n)) opaque.push(`${where}: accepts anything`);
  };
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      for (const [status, r] of Object.entries(op.responses)) {
        for (const [media, m] of Object.entries(r.content ?? {})) {
          const where = `${method.toUpperCase()} ${p} ${status} ${media}`;
          if (m.schema) {
            if (status.startsWith("2") && media === "application/json") successResponses++;
            walk(m.schema, where);
          }
          if (m["x-itemSchema"]) walk(m["x-itemSchema"], `${where} item`);
        }
      }
    }
  }
  return { opaque, successResponses };
}
