// The instance's one HTTP listener (Fastify API and Next.js share it), with the two things a
// load balancer needs from it:
// - keep-alive: idle connections stay open longer than the balancer's idle timeout (commonly
//   60 s), so it never reuses a connection the broker is closing (which shows as a 502). Node's
//   default is 5 s, and Fastify's own keepAliveTimeout does not apply to a custom server.
// - draining: on shutdown the listener stops accepting connections, requests in flight finish
//   (up to a bound), requests arriving meanwhile on open connections get a JSON 503 with
//   Retry-After and `connection: close`, so clients retry on another instance.
import http from "node:http";

type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface DrainingServerOptions {
  keepAliveTimeoutMs: number;
  handler: NodeHandler;
}

export interface DrainingServer {
  server: http.Server;
  /** Requests being served, long-lived streams (SSE) excluded. */
  inFlight(): number;
  /**
   * Stops accepting connections, answers new requests with 503, waits until the requests in
   * flight finished or `maxMs` passed, then closes every connection. Resolves with what was
   * still running when it gave up (0 after a clean drain).
   */
  drain(maxMs: number): Promise<number>;
}

/** Long-lived streams are not waited for: they would hold every drain to its bound. */
function isStream(req: http.IncomingMessage): boolean {
  return (req.url ?? "").includes("/audit/stream") || (req.headers.accept ?? "").includes("text/event-stream");
}

export function createDrainingServer(opts: DrainingServerOptions): DrainingServer {
  let draining = false;
  const active = new Set<http.ServerResponse>();
  let onIdle: (() => void) | null = null;
  // One shared listener (no closure per request on the data path); `this` is the finished response.
  function settled(this: http.ServerResponse): void {
    active.delete(this);
    if (draining && active.size === 0) onIdle?.();
  }
  const server = http.createServer((req, res) => {
    if (draining) {
      res.shouldKeepAlive = false;
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" });
      res.end(JSON.stringify({ error: { code: "shutting_down", message: "this instance is shutting down; retry on another instance" } }));
      return;
    }
    if (!isStream(req)) {
      active.add(res);
      res.once("close", settled);
    }
    opts.handler(req, res);
  });
  server.keepAliveTimeout = opts.keepAliveTimeoutMs;
  // headersTimeout must exceed keepAliveTimeout, or Node can cut a reused connection whose next
  // request's headers arrive just before the keep-alive deadline.
  server.headersTimeout = opts.keepAliveTimeoutMs + 1_000;
  // No whole-request deadline (Node's default cuts any request after 300 s): a stream of gigabytes
  // (/encrypt/stream, /decrypt/stream) legitimately takes longer. Headers keep their deadline, and
  // a body is only read after its sender authenticated (lib/http/admission.ts), within the
  // tenant's in-flight limit.
  server.requestTimeout = 0;

  return {
    server,
    inFlight: () => active.size,
    async drain(maxMs) {
      if (!draining) {
        draining = true;
        // Responses still to finish close their connection instead of keeping it alive.
        for (const res of active) if (!res.headersSent) res.shouldKeepAlive = false;
        // Stops listening; Node also closes the connections idle right now.
        if (server.listening) server.close();
        server.closeIdleConnections();
      }
      if (active.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, maxMs));
          timer.unref();
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const left = active.size;
      server.closeAllConnections();
      return left;
    },
  };
}
