// The API's side of console sessions: the /api/v1 endpoints accept the next-auth session
// cookie as well as Bearer tokens (DESIGN.md: one resolver, same actor context). Cookie-
// authenticated mutations must prove they come from the console's own JavaScript (a custom
// header, which cross-site forms cannot send and cross-site fetch cannot send without a CORS
// preflight we never answer) and from our own origin. Which actions also need a recent login
// is the permission table's freshSignIn flag (permissions.ts), checked by authorize().
import type { FastifyRequest } from "fastify";
import { decode } from "next-auth/jwt";
import type { Database } from "../db/database";
import { BrokerError } from "../broker/errors";
import type { ConsoleCaller, ConsoleSessionResolver } from "./caller";
import { sessionCookieName } from "./config-shared";
import { ActiveUserCache, sessionIsCurrent, tokenSessionVersion } from "./users";

export const CSRF_HEADER = "x-cmek-csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface ConsoleSessionOptions {
  secret: string;
  secureCookies: boolean;
  /** The console's public origin (NEXTAUTH_URL), when configured; otherwise the request's Host is the origin. */
  publicOrigin?: string;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (!name || out.has(name)) continue;
    let value = part.slice(i + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      out.set(name, decodeURIComponent(value));
    } catch {
      out.set(name, value);
    }
  }
  return out;
}

/** next-auth splits large cookies into name.0, name.1, ... */
function readSessionCookie(cookies: Map<string, string>, name: string): string | null {
  const whole = cookies.get(name);
  if (whole) return whole;
  const chunks: string[] = [];
  for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`)!);
  return chunks.length ? chunks.join("") : null;
}

function checkSameOrigin(req: FastifyRequest, publicOrigin: string | undefined): void {
  if (req.headers[CSRF_HEADER] !== "1") {
    throw new BrokerError("forbidden", `console requests that change state must send the ${CSRF_HEADER} header`);
  }
  const origin = req.headers.origin;
  if (typeof origin !== "string") throw new BrokerError("forbidden", "console requests that change state must carry an Origin header");
  // Scheme, host and port: comparing the host alone let http://console.example forge requests to
  // https://console.example (a network attacker can serve the former).
  let given: string;
  try {
    given = new URL(origin).origin;
  } catch {
    throw new BrokerError("forbidden", "malformed Origin header");
  }
  if (given !== expectedOrigin(req, publicOrigin)) throw new BrokerError("forbidden", "cross-origin request refused");
}

/** NEXTAUTH_URL's origin when set (required behind a TLS-terminating proxy), else this request's own scheme and Host. */
function expectedOrigin(req: FastifyRequest, publicOrigin: string | undefined): string | null {
  if (publicOrigin) return new URL(publicOrigin).origin;
  const host = req.headers.host;
  if (!host) return null;
  try {
    return new URL(`${req.protocol}://${host}`).origin;
  } catch {
    return null;
  }
}

export function createConsoleSessionResolver(db: Database, opts: ConsoleSessionOptions): ConsoleSessionResolver {
  const users = new ActiveUserCache(db);
  const cookieName = sessionCookieName(opts.secureCookies);
  return async (req) => {
    const raw = readSessionCookie(parseCookies(req.headers.cookie), cookieName);
    if (!raw) return null;
    let token;
    try {
      token = await decode({ token: raw, secret: opts.secret });
    } catch {
      return null;
    }
    if (!token || typeof token.userId !== "string") return null;
    // A session from before the user's last sign-out carries an older session version.
    const version = tokenSessionVersion(token);
    const user = await users.get(token.userId, version);
    if (!sessionIsCurrent(user, version)) return null;
    const caller: ConsoleCaller = {
      kind: "console",
      userId: user.id,
      email: user.email,
      role: user.role,
      tenantId: user.tenantId,
      tenantSlug: user.tenantSlug,
      authTime: typeof token.authTime === "number" ? token.authTime : 0,
      hasFactor: user.hasFactor,
      stepUpTime: user.stepUpAt,
      stepUpRequired: user.stepUpRequired,
    };
    if (!SAFE_METHODS.has(req.method)) checkSameOrigin(req, opts.publicOrigin);
    return caller;
  };
}
