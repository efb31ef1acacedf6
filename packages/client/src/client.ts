// The broker's data path for internal services: encrypt, decrypt, their batches, streams and status,
// with typed errors, retries (backoff with jitter, Retry-After honoured, never a 4xx), a time budget
// per call, request ids, a keep-alive agent and an optional coalescer of concurrent single calls.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { Coalescer, type CoalescerOptions } from "./coalescer.js";
import { abortReason, BrokerApiError, BrokerTimeoutError, itemError, UnexpectedResponseError } from "./errors.js";
import * as generated from "./generated/api.js";
import type { StatusResponse } from "./generated/api.js";
import { RETRY_DEFAULTS, retryDelayMs, wait, type RetryOptions } from "./retry.js";
import { decryptFields, encryptFields, type FieldOptions } from "./fields.js";
import { StreamCalls, type StreamOptions, type StreamSource } from "./streams.js";
import { header, parseJson, readAll, Transport, type Exchange, type TransportOptions } from "./transport.js";
import type { BatchResult, CallOptions, DataOptions, DecryptBatchRequest, DecryptBatchResponse, DecryptItem, EncryptBatchRequest, EncryptBatchResponse, EncryptItem } from "./types.js";

export interface BrokerClientOptions extends TransportOptions {
  /** The tenant's slug; the service token belongs to it. */
  tenant: string;
  /** Default time budget of a call in ms, retries included (default 10,000). */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Merge concurrent single encrypts and decrypts into batch requests (off by default). */
  coalesce?: boolean | CoalescerOptions;
}

// The batch endpoints' limits (issue 14): from lib/contracts once declared there, else the documented ones.
const limits = generated as unknown as Record<string, number | undefined>;
export const BATCH_MAX_ITEMS = limits.MAX_BATCH_ITEMS ?? 1000;
export const BATCH_MAX_BYTES = limits.MAX_BATCH_BODY_BYTES ?? 4 * 1024 * 1024;

const toBase64 = (v: Uint8Array | string) => (typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString("base64");

export class BrokerClient {
  readonly tenant: string;
  private readonly transport: Transport;
  private readonly timeoutMs: number;
  private readonly retry: Required<Omit<RetryOptions, "onRetry">> & Pick<RetryOptions, "onRetry">;
  private readonly coalescer: Coalescer | null;
  private readonly streams: StreamCalls;

  constructor(opts: BrokerClientOptions) {
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(opts.tenant)) throw new TypeError(`not a tenant slug: ${JSON.stringify(opts.tenant)}`);
    this.tenant = opts.tenant;
    this.transport = new Transport(opts);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retry = { ...RETRY_DEFAULTS, ...opts.retry };
    this.coalescer = opts.coalesce ? new Coalescer(this, opts.coalesce === true ? {} : opts.coalesce) : null;
    this.streams = new StreamCalls(this.transport, `/api/v1/tenants/${this.tenant}`, this.timeoutMs);
  }

  /** Encrypts bytes (or a string, as UTF-8); resolves with the ciphertext as base64. */
  encrypt(plaintext: Uint8Array | string, opts: DataOptions = {}): Promise<string> {
    if (this.coalescer) return this.coalescer.encrypt({ plaintext, context: opts.context, purpose: opts.purpose, dataClass: opts.dataClass }, opts);
    return this.call<{ ciphertext: string }>("POST", "/encrypt", { plaintext: toBase64(plaintext), context: opts.context, purpose: opts.purpose, dataClass: opts.dataClass }, opts).then((r) => r.ciphertext);
  }

  /** Decrypts a ciphertext of this tenant, with the context it was encrypted with. */
  decrypt(ciphertext: string, opts: DataOptions = {}): Promise<Buffer> {
    if (this.coalescer) return this.coalescer.decrypt({ ciphertext, context: opts.context, purpose: opts.purpose }, opts);
    return this.call<{ plaintext: string }>("POST", "/decrypt", { ciphertext, context: opts.context, purpose: opts.purpose }, opts).then((r) => Buffer.from(r.plaintext, "base64"));
  }

  /**
   * Encrypts many items: one result per item, in order; a bad item never fails the others. More
   * items than one request takes are sent as several batch requests. A lock, an outage or a refused
   * credential rejects the whole call, as a single call would.
   */
  async encryptBatch(items: readonly EncryptItem[], opts: CallOptions = {}): Promise<Array<BatchResult<string>>> {
    const wire = items.map((i) => ({ plaintext: toBase64(i.plaintext), context: i.context, purpose: i.purpose, dataClass: i.dataClass }));
    return this.batch(wire, opts, async (chunk, o) => {
      const body: EncryptBatchRequest = { items: chunk };
      const r = await this.call<EncryptBatchResponse>("POST", "/encrypt/batch", body, o);
      return { results: r.results, map: (v) => (v as { ciphertext: string }).ciphertext };
    });
  }

  /** Decrypts many items: one result per item, in order (see encryptBatch). */
  async decryptBatch(items: readonly DecryptItem[], opts: CallOptions = {}): Promise<Array<BatchResult<Buffer>>> {
    const wire = items.map((i) => ({ ciphertext: i.ciphertext, context: i.context, purpose: i.purpose }));
    return this.batch(wire, opts, async (chunk, o) => {
      const body: DecryptBatchRequest = { items: chunk };
      const r = await this.call<DecryptBatchResponse>("POST", "/decrypt/batch", body, o);
      return { results: r.results, map: (v) => Buffer.from((v as { plaintext: string }).plaintext, "base64") };
    });
  }

  /** A copy of `obj` with the fields at `paths` encrypted, each bound to its path ("address.street", "cards[].number"); one batch request. */
  encryptFields<T>(obj: T, paths: readonly string[], opts: FieldOptions = {}): Promise<T> {
    return encryptFields(this, obj, paths, opts);
  }

  /** The inverse of encryptFields, with the same paths and context. */
  decryptFields<T>(obj: T, paths: readonly string[], opts: FieldOptions = {}): Promise<T> {
    return decryptFields(this, obj, paths, opts);
  }

  /** The tenant's lock state as this broker instance sees it. */
  status(opts: CallOptions = {}): Promise<StatusResponse> {
    return this.call<StatusResponse>("GET", "/status", undefined, opts);
  }

  /** Encrypts a stream of any length (framed AES-256-GCM); resolves with the ciphertext stream once the broker accepted it. */
  encryptStream(source: StreamSource, opts: StreamOptions = {}): Promise<Readable> {
    return this.streams.open("encrypt", source, opts);
  }

  /** Decrypts a stream made by encryptStream; the stream errors (and ends) at the first frame that does not verify. */
  decryptStream(source: StreamSource, opts: StreamOptions = {}): Promise<Readable> {
    return this.streams.open("decrypt", source, opts);
  }

  /** encryptStream as a Duplex, for stream.pipeline(input, client.encryptTransform(), output). */
  encryptTransform(opts: StreamOptions = {}) {
    return this.streams.duplex("encrypt", opts);
  }

  /** decryptStream as a Duplex (see encryptTransform). */
  decryptTransform(opts: StreamOptions = {}) {
    return this.streams.duplex("decrypt", opts);
  }

  /** encryptStream for web streams (fetch bodies, Blob.stream()). */
  encryptWebStream(source: ReadableStream<Uint8Array>, opts: StreamOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.streams.openWeb("encrypt", source, opts);
  }

  /** decryptStream for web streams. */
  decryptWebStream(source: ReadableStream<Uint8Array>, opts: StreamOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.streams.openWeb("decrypt", source, opts);
  }

  /** Batch requests the coalescer sent and the single calls they carried (null without a coalescer). */
  coalescerStats() {
    return this.coalescer?.stats() ?? null;
  }

  /** Sends what the coalescer holds, waits for it, and closes the keep-alive connections of the client's own agent. */
  async close(): Promise<void> {
    await this.coalescer?.drain();
    this.transport.close();
  }

  private async batch<W>(
    wire: W[],
    opts: CallOptions,
    send: (chunk: W[], o: CallOptions) => Promise<{ results: ReadonlyArray<unknown>; map: (v: unknown) => unknown }>,
  ): Promise<Array<BatchResult<never>>> {
    if (wire.length === 0) return [];
    const chunks = chunkItems(wire);
    const requestId = opts.requestId ?? randomUUID();
    const answers = await Promise.all(
      chunks.map(async (chunk, n) => {
        // One request id per request: the given (or drawn) one, suffixed when the items take several.
        const o = { ...opts, requestId: chunks.length === 1 ? requestId : `${requestId}.${n}` };
        const { results, map } = await send(chunk, o);
        if (results.length !== chunk.length) throw new UnexpectedResponseError(`batch answered ${results.length} results for ${chunk.length} items`, 200, o.requestId);
        return { results, map, requestId: o.requestId };
      }),
    );
    const out: Array<BatchResult<unknown>> = [];
    for (const a of answers)
      for (const r of a.results) {
        const err = (r as { error?: { code: string; message: string } }).error;
        out.push(err ? { ok: false, error: itemError(err, out.length, a.requestId) } : { ok: true, value: a.map(r) });
      }
    return out as Array<BatchResult<never>>;
  }

  /** One JSON call with retries, within the call's time budget. */
  private async call<T>(method: Exchange["method"], path: string, body: unknown, opts: CallOptions): Promise<T> {
    const requestId = opts.requestId ?? randomUUID();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let lastError: unknown;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.attempt<T>({ method, path: `/api/v1/tenants/${this.tenant}${path}`, requestId, signal, body: payload, headers: payload ? { "content-type": "application/json" } : {} });
        } catch (err) {
          if (signal.aborted) throw err;
          lastError = err;
          const delay = retryDelayMs(this.retry, attempt, err);
          // Not retried, or the wait would outlast the call's budget: the broker's answer is the better error.
          if (delay === null || Date.now() + delay >= deadline) throw err;
          this.retry.onRetry?.({ attempt, delayMs: delay, error: err, requestId });
          await wait(delay, signal);
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      if (timeout.aborted) throw new BrokerTimeoutError(timeoutMs, requestId, lastError);
      throw err;
    }
  }

  private async attempt<T>(x: Exchange): Promise<T> {
    const res: IncomingMessage = await this.transport.send(x);
    const raw = await readAll(res);
    const parsed = parseJson(res, raw);
    if (!parsed.ok) throw parsed.error;
    if (parsed.value === null || typeof parsed.value !== "object") throw new UnexpectedResponseError("answer is not a JSON object", res.statusCode ?? 0, header(res.headers, "x-request-id"));
    return parsed.value as T;
  }
}

/** Splits items into requests of at most BATCH_MAX_ITEMS items and about BATCH_MAX_BYTES of JSON. */
function chunkItems<W>(items: W[]): W[][] {
  const chunks: W[][] = [];
  let current: W[] = [];
  let bytes = 0;
  // Room for the envelope and the JSON framing of each item.
  const budget = BATCH_MAX_BYTES - 1024;
  for (const item of items) {
    const size = JSON.stringify(item).length + 1;
    if (current.length > 0 && (current.length >= BATCH_MAX_ITEMS || bytes + size > budget)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export { BrokerApiError };
