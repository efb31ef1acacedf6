// next-auth (v4) for console users: JWT sessions in an httpOnly, SameSite=Lax cookie (Secure
// when the console's URL is https), email + password (scrypt) for the embedded demo and small
// installs, and OIDC for SSO when configured. The JWT carries who the user is, when they last
// proved it (authTime: the password check, or the identity provider's auth_time for SSO), which
// gates lock, unlock and key changes, and the user's session version (signing out bumps it,
// which ends every session issued before).
import NextAuth, { getServerSession, type NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { OAuthConfig } from "next-auth/providers/oauth";
import type { BrokerConfig } from "../config/env";
import { ensureNextAuthSecret } from "./bootstrap";
import { safeRedirectUrl } from "./callback-url";
import { CLIENT_ADDRESS_HEADER, isSecureConsole } from "./config-shared";
import { EMAIL_UNVERIFIED, tooManyAttemptsCode } from "./sign-in-errors";
import { LoginThrottle } from "./throttle";
import { verifyPassword } from "./password";
import type { ConsoleRole } from "./roles";
import { serverBroker } from "./server-broker";
import { ActiveUserCache, endSessions, findUserByEmail, sessionIsCurrent, tokenSessionVersion, type ConsoleUserRecord } from "./users";

declare module "next-auth" {
  interface User {
    role?: ConsoleRole;
    tenantId?: string | null;
    tenantSlug?: string | null;
  }
  interface Session {
    user: { id: string; email: string; name: string | null; role: ConsoleRole; tenantId: string | null; tenantSlug: string | null; authTime: number; hasPassword: boolean };
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    userId?: string;
    role?: ConsoleRole;
    tenantId?: string | null;
    tenantSlug?: string | null;
    authTime?: number;
    sessionVersion?: number;
  }
}

export const SESSION_MAX_AGE_S = 8 * 60 * 60;

const throttle = new LoginThrottle();

function oidcProvider(config: BrokerConfig): OAuthConfig<Record<string, unknown>> | null {
  if (!config.BROKER_OIDC_ISSUER || !config.BROKER_OIDC_CLIENT_ID || !config.BROKER_OIDC_CLIENT_SECRET) return null;
  return {
    id: "oidc",
    name: config.BROKER_OIDC_NAME ?? "SSO",
    type: "oauth",
    wellKnown: `${config.BROKER_OIDC_ISSUER.replace(/\/$/, "")}/.well-known/openid-configuration`,
    clientId: config.BROKER_OIDC_CLIENT_ID,
    clientSecret: config.BROKER_OIDC_CLIENT_SECRET,
    authorization: { params: { scope: "openid email profile" } },
    idToken: true,
    checks: ["pkce", "state", "nonce"],
    profile(p) {
      return { id: String(p.sub), email: typeof p.email === "string" ? p.email : null, name: typeof p.name === "string" ? p.name : null };
    },
  };
}

/** Only an email the identity provider vouches for maps to a console user (some providers send the claim as a string). */
function hasVerifiedEmail(profile: unknown): profile is { email: string } {
  const p = (profile ?? {}) as { email?: unknown; email_verified?: unknown };
  return typeof p.email === "string" && p.email !== "" && (p.email_verified === true || p.email_verified === "true");
}

/**
 * When the user last authenticated at the identity provider (the ID token's auth_time), in ms.
 * Without the claim the login counts as old, so sensitive actions send the user back to the
 * provider with max_age=0, which obliges it to send auth_time.
 */
function idpAuthTime(profile: unknown): number {
  const t = (profile as { auth_time?: unknown } | undefined)?.auth_time;
  return typeof t === "number" && Number.isFinite(t) && t > 0 ? Math.min(t * 1000, Date.now()) : 0;
}

async function recordLogin(user: ConsoleUserRecord, outcome: "success" | "denied", method: string, reason?: string): Promise<void> {
  // Vendor operators have no tenant, so there is no tenant chain to write to; their logins go to the server log.
  if (!user.tenantId) {
    console.info(`console.login ${outcome} vendor user ${user.id} via ${method}${reason ? ` (${reason})` : ""}`);
    return;
  }
  await serverBroker()
    .audit.record({
      tenantId: user.tenantId,
      actor: { type: "console_user", id: user.id, name: user.email },
      action: "console.login",
      outcome,
      reason,
      detail: { method, role: user.role },
    })
    .catch((e: unknown) => console.error(`console.login audit failed: ${(e as Error).message}`));
}

let cached: { options: NextAuthOptions; broker: unknown } | null = null;

/** Built on first use from the running broker's validated configuration. */
export function getAuthOptions(): NextAuthOptions {
  const broker = serverBroker();
  if (cached && cached.broker === broker) return cached.options;
  const config = broker.config;
  const db = broker.db;
  const users = new ActiveUserCache(db);
  const oidc = oidcProvider(config);

  const options: NextAuthOptions = {
    secret: ensureNextAuthSecret(config),
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_S },
    useSecureCookies: isSecureConsole(config),
    pages: { signIn: "/sign-in", error: "/sign-in" },
    providers: [
      CredentialsProvider({
        id: "credentials",
        name: "Email and password",
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
        async authorize(credentials, req) {
          const email = String(credentials?.email ?? "").trim().toLowerCase();
          const password = String(credentials?.password ?? "");
          if (!email || !password || email.length > 320 || password.length > 1024) return null;
          // Set by our own HTTP server from the socket, overwriting anything the client sent.
          const address = String(req?.headers?.[CLIENT_ADDRESS_HEADER] ?? "");
          const decision = throttle.check(email, address);
          // next-auth turns the message into the error code the sign-in form shows.
          if (!decision.allowed) throw new Error(tooManyAttemptsCode(decision.retryAfterS));
          const user = await findUserByEmail(db, email);
          const ok = await verifyPassword(password, user?.passwordHash);
          if (!user || !ok || user.disabled) {
            throttle.fail(email, address);
            if (user) await recordLogin(user, "denied", "password", user.disabled ? "user_disabled" : "bad_password");
            return null;
          }
          throttle.succeed(email, address);
          return { id: user.id, email: user.email, name: user.name, role: user.role, tenantId: user.tenantId, tenantSlug: user.tenantSlug };
        },
      }),
      ...(oidc ? [oidc] : []),
    ],
    callbacks: {
      async signIn({ account, profile }) {
        if (account?.provider !== "oidc") return true;
        // SSO never creates users: the vendor or the tenant admin provisions them, and SSO maps by verified email.
        // A missing email_verified claim is refused like `false`: an unverified address proves nothing.
        if (!hasVerifiedEmail(profile)) return `/sign-in?error=${EMAIL_UNVERIFIED}`;
        const known = await findUserByEmail(db, profile.email);
        return !!known && !known.disabled;
      },
      redirect({ url, baseUrl }) {
        return safeRedirectUrl(url, baseUrl);
      },
      async jwt({ token, user, account, profile }) {
        if (user) {
          const known = user.email ? await findUserByEmail(db, user.email) : null;
          if (!known || known.disabled) throw new Error("unknown console user");
          token.sub = known.id;
          token.userId = known.id;
          token.email = known.email;
          token.name = known.name;
          token.role = known.role;
          token.tenantId = known.tenantId;
          token.tenantSlug = known.tenantSlug;
          token.authTime = account?.provider === "oidc" ? idpAuthTime(profile) : Date.now();
          token.sessionVersion = known.sessionVersion;
          if (account?.provider === "oidc") await recordLogin(known, "success", "oidc");
        }
        return token;
      },
      async session({ session, token }) {
        const version = tokenSessionVersion(token);
        const current = token.userId ? await users.get(token.userId, version) : null;
        // Disabled, or signed out since this session was issued.
        if (!sessionIsCurrent(current, version)) return { ...session, user: undefined as never };
        session.user = {
          id: current.id,
          email: current.email,
          name: current.name,
          role: current.role,
          tenantId: current.tenantId,
          tenantSlug: current.tenantSlug,
          authTime: token.authTime ?? 0,
          hasPassword: current.passwordHash !== null,
        };
        return session;
      },
    },
    events: {
      async signOut({ token }) {
        // Ends every session of this user, including copies of the cookie kept elsewhere.
        if (typeof token?.userId === "string") await endSessions(db, token.userId);
      },
      async signIn({ user, account }) {
        if (account?.provider !== "credentials" || !user.email) return;
        const known = await findUserByEmail(db, user.email);
        if (known) await recordLogin(known, "success", "password");
      },
    },
  };
  cached = { options, broker };
  return options;
}

export interface ConsoleSessionUser {
  id: string;
  email: string;
  name: string | null;
  role: ConsoleRole;
  tenantId: string | null;
  tenantSlug: string | null;
  authTime: number;
  hasPassword: boolean;
}

/** The signed-in console user for server components, or null (also when the user was disabled). */
export async function getConsoleUser(): Promise<ConsoleSessionUser | null> {
  const session = await getServerSession(getAuthOptions());
  const u = session?.user;
  return u && u.id && u.role ? u : null;
}

type RouteHandler = (req: Request, ctx: { params: Promise<{ nextauth: string[] }> }) => Promise<Response>;

/** app/api/auth/[...nextauth]/route.ts exports this for GET and POST. */
export const authRouteHandler: RouteHandler = (req, ctx) => (NextAuth as unknown as (...a: unknown[]) => Promise<Response>)(req, ctx, getAuthOptions());
