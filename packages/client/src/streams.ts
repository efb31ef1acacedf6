// The streaming endpoints (encrypt/stream, decrypt/stream): octet-stream in and out, the context in
// x-cmek-context (base64url of the JSON object) and the purpose in x-cmek-purpose. Not retried: a
// stream's source cannot be replayed. The time budget covers the wait for the answer's headers only,
// so a stream of gigabytes is not cut off by it; the caller's signal aborts the transfer at any point.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Duplex, PassThrough, Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { BrokerTimeoutError, UnexpectedResponseError } from "./errors.js";
import { header, parseJson, readAll, type Transport } from "./transport.js";
import type { CallOptions, EncryptionContext } from "./types.js";

export interface StreamOptions extends CallOptions {
  context?: EncryptionContext;
  purpose?: string;
  /** Encrypt only: the tenant's data class to encrypt for (default `default`); sent as x-cmek-data-class. */
  dataClass?: string;
}

export type StreamSource = Readable | AsyncIterable<Uint8Array> | Uint8Array;

/** The broker ended a stream before its end (a frame that did not verify, a lost connection): what came before it is all there is. */
export class StreamInterruptedError extends Error {
  override name = "StreamInterruptedError";
  constructor(
    message: string,
    readonly requestId: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export class StreamCalls {
  constructor(
    private readonly transport: Transport,
    private readonly base: string,
    private readonly timeoutMs: number,
  ) {}

  async open(op: "encrypt" | "decrypt", source: StreamSource, opts: StreamOptions): Promise<Readable> {
    const requestId = opts.requestId ?? randomUUID();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const headersWait = new AbortController();
    const timer = setTimeout(() => headersWait.abort(new BrokerTimeoutError(timeoutMs, requestId)), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, headersWait.signal]) : headersWait.signal;
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (opts.context) headers["x-cmek-context"] = Buffer.from(JSON.stringify(opts.context)).toString("base64url");
    if (opts.purpose !== undefined) headers["x-cmek-purpose"] = opts.purpose;
    if (opts.dataClass !== undefined && op === "encrypt") headers["x-cmek-data-class"] = opts.dataClass;
    const body = source instanceof Readable ? source : Readable.from(source instanceof Uint8Array ? [source] : source);
    let res: IncomingMessage;
    try {
      res = await this.transport.send({ method: "POST", path: `${this.base}/${op}/stream`, requestId, signal, headers, body });
    } finally {
      clearTimeout(timer);
    }
    if (res.statusCode !== 200) {
      const raw = await readAll(res, 1024 * 1024);
      // The broker refused the stream: stop sending the rest of the input.
      body.unpipe();
      res.destroy();
      const parsed = parseJson(res, raw);
      if (parsed.ok) throw new UnexpectedResponseError(`HTTP ${res.statusCode} from a stream endpoint`, res.statusCode ?? 0, header(res.headers, "x-request-id"));
      throw parsed.error;
    }
    return guard(res, header(res.headers, "x-request-id") ?? requestId);
  }

  async openWeb(op: "encrypt" | "decrypt", source: ReadableStream<Uint8Array>, opts: StreamOptions): Promise<ReadableStream<Uint8Array>> {
    const out = await this.open(op, Readable.fromWeb(source as NodeWebReadableStream<Uint8Array>), opts);
    return Readable.toWeb(out) as unknown as ReadableStream<Uint8Array>;
  }

  duplex(op: "encrypt" | "decrypt", opts: StreamOptions): Duplex {
    const input = new PassThrough();
    const output = new PassThrough();
    this.open(op, input, opts).then(
      (res) => {
        res.on("error", (err) => output.destroy(err));
        res.pipe(output);
      },
      (err: Error) => {
        input.destroy();
        output.destroy(err);
      },
    );
    return Duplex.from({ writable: input, readable: output });
  }
}

/** The trailer the broker ends a complete stream with (`x-cmek-stream: complete`). */
const COMPLETE_TRAILER = "x-cmek-stream";

/** The answer as a stream that errors, instead of ending quietly, when the broker cut it short. */
function guard(res: IncomingMessage, requestId: string): Readable {
  const out = new PassThrough();
  res.on("aborted", () => out.destroy(new StreamInterruptedError("the broker ended the stream before its end", requestId)));
  res.on("error", (err) => out.destroy(new StreamInterruptedError(`the stream from the broker failed: ${err.message}`, requestId, err)));
  res.on("end", () => {
    // A complete stream ends with this trailer; a body that ends cleanly without it (a proxy that
    // closed the chunked body after the broker's reset) is cut short all the same.
    if (res.trailers[COMPLETE_TRAILER] !== "complete") out.destroy(new StreamInterruptedError(`the stream ended without the ${COMPLETE_TRAILER} trailer`, requestId));
  });
  res.pipe(out);
  out.on("close", () => {
    if (!res.complete) res.destroy();
  });
  return out;
}
