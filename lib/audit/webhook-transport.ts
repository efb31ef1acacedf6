// One webhook POST over node:http(s), so every new connection goes through guardedLookup: the
// address checked is the address connected to (no second resolution between check and connect).
// Connections are kept alive and reused: a reused socket is still connected to the address that
// was checked when it was opened, so reuse cannot be rebound.
// Redirects are never followed (a receiver could bounce the broker into an internal address),
// and the response body is discarded unread.
import http from "node:http";
import https from "node:https";
import { guardedLookup, isPrivateHost, WebhookAddressError } from "./webhook-address";

export interface WebhookPostOptions {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Demo and tests: deliver to loopback and private addresses too. */
  allowPrivate: boolean;
}

const agentOptions = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: 30_000 };
const guarded = { http: new http.Agent({ ...agentOptions, lookup: guardedLookup }), https: new https.Agent({ ...agentOptions, lookup: guardedLookup }) };
const open = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

/** Resolves with the HTTP status; rejects with WebhookAddressError for a refused target, or the transport error. */
export function postWebhook(url: string, opts: WebhookPostOptions): Promise<number> {
  const u = new URL(url);
  if (!opts.allowPrivate && isPrivateHost(u.hostname)) return Promise.reject(new WebhookAddressError("webhook host is not a public address"));
  const mod = u.protocol === "https:" ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: "POST",
        headers: { ...opts.headers, "content-length": String(Buffer.byteLength(opts.body)) },
        agent: (opts.allowPrivate ? open : guarded)[u.protocol === "https:" ? "https" : "http"],
        timeout: opts.timeoutMs,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        res.on("error", () => undefined); // the status is all that is used; a broken body changes nothing
      },
    );
    const timer = setTimeout(() => req.destroy(Object.assign(new Error("timeout"), { name: "TimeoutError" })), opts.timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { name: "TimeoutError" })));
    req.on("error", reject);
    req.end(opts.body);
  });
}
