// Streams a request body to the broker and its response back, over node:http (fetch neither
// exposes trailers nor says clearly that a chunked body was cut off). The response is handed
// to `onData` chunk by chunk (and collected unless `collect` is false).
import http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface StreamResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
  /** The response did not end cleanly (connection reset or chunked body cut off). */
  aborted: boolean;
  /** JSON error body, when the answer was one. */
  json?: { error: { code: string; message: string; reason?: string } };
}

export interface StreamCall {
  token: string;
  input: Readable | Buffer;
  context?: Record<string, string>;
  purpose?: string;
  requestId?: string;
  /** Further request headers (e.g. x-cmek-data-class). */
  headers?: Record<string, string>;
  onData?: (chunk: Buffer) => void;
  collect?: boolean;
}

export function contextHeader(context: Record<string, string>): string {
  return Buffer.from(JSON.stringify(context)).toString("base64url");
}

export function streamCall(baseUrl: string, path: string, call: StreamCall): Promise<StreamResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${call.token}`, "content-type": "application/octet-stream" };
  if (call.context) headers["x-cmek-context"] = contextHeader(call.context);
  if (call.purpose) headers["x-cmek-purpose"] = call.purpose;
  if (call.requestId) headers["x-request-id"] = call.requestId;
  Object.assign(headers, call.headers);
  return new Promise((resolve, reject) => {
    const req = http.request(baseUrl + path, { method: "POST", headers, agent: false });
    req.on("error", (e) => {
      // A refused upload's connection is closed after the answer: only a failure before any answer is one.
      if (!answered) reject(e);
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on("data", (c: Buffer) => {
        call.onData?.(c);
        if (call.collect !== false) chunks.push(c);
      });
      res.on("aborted", () => (aborted = true));
      res.on("error", () => (aborted = true));
      res.on("close", () => {
        const body = Buffer.concat(chunks);
        const out: StreamResponse = { status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers, aborted: aborted || !res.complete };
        if (String(res.headers["content-type"]).startsWith("application/json")) out.json = JSON.parse(body.toString()) as StreamResponse["json"];
        resolve(out);
      });
    });
    const source = Buffer.isBuffer(call.input) ? Readable.from([call.input]) : call.input;
    pipeline(source, req).catch(() => {
      // The broker may answer (and close) before the whole body is sent: the answer is what counts.
    });
  });
}
