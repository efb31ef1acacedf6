// One HTTP exchange over a keep-alive agent (node:http / node:https): headers, body (a buffer or a
// stream), abort by signal. Retries and error typing are the caller's (client.ts).
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { abortReason, BrokerConnectionError, errorFromBody, UnexpectedResponseError, type BrokerApiError } from "./errors.js";

export interface TransportOptions {
  baseUrl: string;
  token: string;
  /** Your own agent; the default keeps up to `maxSockets` connections alive. */
  agent?: http.Agent;
  maxSockets?: number;
  /** Extra CA certificates (PEM) for an https broker with a private CA. */
  ca?: string | Buffer;
  userAgent?: string;
}

export interface Exchange {
  method: "GET" | "POST";
  path: string;
  requestId: string;
  signal: AbortSignal;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
}

/** The most a JSON answer may hold (a full batch of 1 MiB plaintexts is under 6 MiB of base64). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

export class Transport {
  readonly agent: http.Agent;
  private readonly url: URL;
  private readonly ownsAgent: boolean;
  private readonly lib: typeof http | typeof https;

  constructor(private readonly opts: TransportOptions) {
    this.url = new URL(opts.baseUrl);
    this.lib = this.url.protocol === "https:" ? https : http;
    this.ownsAgent = !opts.agent;
    // Keep-alive: the data path is many small requests, and a TLS or TCP handshake per call would cost more than the call.
    this.agent =
      opts.agent ??
      (this.url.protocol === "https:"
        ? new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, scheduling: "lifo", ...(opts.ca ? { ca: opts.ca } : {}) })
        : new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, scheduling: "lifo" }));
  }

  /** Sends the request; resolves with the response once its headers arrived. */
  send(x: Exchange): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.opts.token}`,
        "x-request-id": x.requestId,
        "user-agent": this.opts.userAgent ?? "@cmek-broker/client",
        ...x.headers,
      };
      if (Buffer.isBuffer(x.body)) headers["content-length"] = String(x.body.length);
      const req = this.lib.request(
        { protocol: this.url.protocol, hostname: this.url.hostname, port: this.url.port, path: this.url.pathname.replace(/\/$/, "") + x.path, method: x.method, headers, agent: this.agent, signal: x.signal },
        resolve,
      );
      req.on("error", (err) => reject(x.signal.aborted ? abortReason(x.signal) : new BrokerConnectionError(`request to the broker failed: ${err.message}`, x.requestId, err)));
      if (x.body === undefined) req.end();
      else if (Buffer.isBuffer(x.body)) req.end(x.body);
      else {
        const body = x.body;
        body.on("error", (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  close(): void {
    if (this.ownsAgent) this.agent.destroy();
  }
}

export async function readAll(res: IncomingMessage, limit = MAX_JSON_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new UnexpectedResponseError(`answer larger than ${limit} bytes`, res.statusCode ?? 0, header(res.headers, "x-request-id"));
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as seconds: delta-seconds or an HTTP date. */
export function retryAfterSeconds(h: IncomingHttpHeaders): number | undefined {
  const v = header(h, "retry-after");
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Parses a JSON answer: the value for 2xx, a typed error otherwise. */
export function parseJson(res: IncomingMessage, raw: Buffer): { ok: true; value: unknown } | { ok: false; error: BrokerApiError | UnexpectedResponseError } {
  const status = res.statusCode ?? 0;
  const requestId = header(res.headers, "x-request-id");
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    return { ok: false, error: new UnexpectedResponseError(`HTTP ${status} with a body that is not JSON (${raw.subarray(0, 80).toString("utf8")})`, status, requestId) };
  }
  if (status >= 200 && status < 300) return { ok: true, value };
  const body = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!body || typeof body.code !== "string" || typeof body.message !== "string") return { ok: false, error: new UnexpectedResponseError(`HTTP ${status} without the API's error envelope`, status, requestId) };
  return { ok: false, error: errorFromBody({ status, body: body as { code: string; message: string }, requestId, retryAfter: retryAfterSeconds(res.headers) }) };
}
