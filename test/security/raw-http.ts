// A raw HTTP/1.1 client for what fetch cannot do: send a request's headers and only part of its
// body, and read the answer the server gives before the body is complete.
import net from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface PartialRequest {
  /** Resolves with the server's answer (it must come before the rest of the body). */
  response: Promise<RawResponse>;
  /** Closes the connection without sending the rest. */
  abort(): void;
}

/** Sends `method path` with a Content-Length of `declaredLength` and only `sentBody` of it. */
export function sendPartial(baseUrl: string, method: string, path: string, headers: Record<string, string>, declaredLength: number, sentBody: string): PartialRequest {
  const url = new URL(baseUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  const head = [`${method} ${path} HTTP/1.1`, `host: ${url.host}`, `content-type: application/json`, `content-length: ${declaredLength}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(head.join("\r\n") + "\r\n\r\n" + sentBody);
  const response = new Promise<RawResponse>((resolve, reject) => {
    let raw = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      raw += chunk;
      const end = raw.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
      const headersOut: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headersOut[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headersOut["content-length"] ?? 0);
      const body = raw.slice(end + 4);
      if (Buffer.byteLength(body) < length) return;
      resolve({ status: Number(statusLine!.split(" ")[1]), headers: headersOut, body });
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("connection closed before a complete response")));
  });
  response.catch(() => {
    /* callers that abort do not read it */
  });
  return { response, abort: () => socket.destroy() };
}

/** Rejects if `p` takes longer than `ms` (the server waited for a body it should not need). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
}
