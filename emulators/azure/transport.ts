// HTTPS transport of the Azure emulator: Key Vault REST (`/keys/...`, `/deletedkeys/...`) with
// bearer-token authentication and the 401 challenge, Entra ID endpoints (./entra), and the
// shared control plane under /_emulator/. Faults apply to vault operations only, after
// authentication and before the body is read, named by the route's op ("wrapkey", "get", ...).
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { ControlPlane } from "../control";
import { closeTracked, listenTracked, readBody, type ListenLabel } from "../http";
import { createEntra, sendJson } from "./entra";
import { BadParameter } from "./keys";
import { HttpError } from "./errors";
import type { createVaultService } from "./service";
import type { VaultStore } from "./store";

const MAX_BODY = 1 << 20;

function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.inner) error.innererror = { code: err.inner };
  sendJson(res, err.status, { error }, headers);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_BODY);
  if (raw === null) throw new HttpError(413, "BadParameter", "Request body too large.");
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "BadParameter", "The request body is not valid JSON.");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new HttpError(400, "BadParameter", "The request body must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

export interface AzureTransport {
  port: number;
  origin: string;
  /** TLS sessions accepted since start. */
  tlsConnections: () => number;
  close(): Promise<void>;
}

export async function startAzureTransport(
  store: VaultStore,
  vault: ReturnType<typeof createVaultService>,
  control: ControlPlane,
  tls: { key: string; cert: string },
  vaultTenantId: string,
  listen: { port: number; host: string; label: ListenLabel },
): Promise<AzureTransport> {
  let origin = "";
  const entra = createEntra(store, vaultTenantId, () => origin);

  const challengeHeader = (): Record<string, string> => ({
    "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/${vaultTenantId}", resource="https://vault.azure.net"`,
  });

  /** Returns the caller's clientId, or answers 401 (before touching the body) and returns null. */
  function authenticate(req: IncomingMessage, res: ServerResponse): string | null {
    const header = req.headers.authorization;
    if (!header) {
      req.resume();
      sendError(res, new HttpError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), challengeHeader());
      return null;
    }
    const m = /^Bearer (\S+)$/i.exec(header);
    const rec = m ? store.tokens.get(m[1]!) : undefined;
    let reason: string | null = null;
    if (!rec) reason = "AKV10022: Invalid audience or token.";
    else if (rec.expiresAt <= Date.now()) reason = "AKV10032: Token expired.";
    else if (rec.tenantId !== vaultTenantId) {
      reason = `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${vaultTenantId}/, found https://sts.windows.net/${rec.tenantId}/.`;
    } else if (!store.principals.has(rec.clientId)) reason = "AKV10022: Invalid audience or token.";
    if (reason) {
      req.resume();
      sendError(res, new HttpError(401, "Unauthorized", reason), challengeHeader());
      return null;
    }
    return rec!.clientId;
  }

  async function serveVault(req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<void> {
    const clientId = authenticate(req, res);
    if (!clientId) return;
    const r = vault.route(req.method ?? "GET", segs);
    if (!r) {
      req.resume();
      return sendError(res, new HttpError(404, "NotFound", `The emulator does not implement ${req.method} /${segs.join("/")}.`));
    }
    switch (await control.admit(r.op, r.keyName)) {
      case "closed":
        return;
      case "blackhole":
        req.resume();
        return; // never answer; close() destroys the socket
      case "reset":
        req.socket.destroy();
        return;
      case "throttle":
        req.resume();
        return sendError(
          res,
          new HttpError(429, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"),
          { "retry-after": "1" },
        );
      case "server_error":
        req.resume();
        return sendError(res, new HttpError(500, "InternalServerError", "An unexpected error occurred while processing the request."));
      case "none":
        break;
    }
    const body = req.method === "POST" || req.method === "PATCH" || req.method === "PUT" ? await readJson(req) : (req.resume(), {});
    const result = await r.run(clientId, body);
    if (result === undefined) {
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 200, result);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "https://localhost");
      const path = url.pathname;
      if (control.isControlPath(path)) return await control.handle(req, res, path);
      let segs: string[];
      try {
        segs = path.slice(1).split("/").map(decodeURIComponent);
      } catch {
        throw new BadParameter("The request path is not valid.");
      }
      if (segs[0] === "keys" || segs[0] === "deletedkeys") return await serveVault(req, res, segs);
      // Entra ID: /<tenant>/v2.0/.well-known/openid-configuration and /<tenant>/oauth2/v2.0/token
      if (segs.length === 4 && segs[1] === "v2.0" && segs[2] === ".well-known" && segs[3] === "openid-configuration" && req.method === "GET") {
        return sendJson(res, 200, entra.openidConfiguration(segs[0]!));
      }
      if (segs.length === 4 && segs[1] === "oauth2" && segs[2] === "v2.0" && segs[3] === "token" && req.method === "POST") {
        return await entra.token(req, res, segs[0]!);
      }
      req.resume();
      sendJson(res, 404, { error: { code: "NotFound", message: `No route for ${req.method} ${path}` } });
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e);
      if (e instanceof BadParameter) return sendError(res, new HttpError(400, "BadParameter", e.message));
      sendError(res, new HttpError(500, "InternalServerError", e instanceof Error ? e.message : String(e)));
    }
  }

  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => void handle(req, res));
  // TLS sessions accepted, so tests can see whether clients reuse their connections.
  let tlsConnections = 0;
  server.on("secureConnection", () => tlsConnections++);
  const { port, sockets } = await listenTracked(server, listen.port, listen.host, listen.label);
  origin = `https://localhost:${port}`;
  vault.setOrigin(origin);
  return { port, origin, tlsConnections: () => tlsConnections, close: () => closeTracked(server, sockets) };
}
