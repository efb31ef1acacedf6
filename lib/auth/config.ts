// next-auth (v4) for console users: JWT sessions in an httpOnly, SameSite=Lax cookie (Secure
// when the console's URL is https), email + password (scrypt) for the embedded demo and small
// installs, and OIDC for SSO when configured. The JWT carries who the user is and when they
// last proved it (authTime), which gates lock, unlock and key changes.
import NextAuth, { getServerSession, type NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { OAuthConfig } from "next-auth/providers/oauth";
import type { BrokerConfig } from "../config/env";
import { ensureNextAuthSecret } from "./bootstrap";
import { isSecureConsole } from "./config-shared";
import { LoginThrottle } from "./throttle";
import { verifyPassword } from "./password";
import type { ConsoleRole } from "./roles";
import { serverBroker } from "./server-broker";
import { ActiveUserCache, findUserByEmail, type ConsoleUserRecord } from "./users";

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
      return { id: String(p.sub), email: typeof p.email === "string" ? p.email : null, name: typeof p.name === "string" ? p.name : null, emailVerified: p.email_verified };
    },
  };
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
        async authorize(credentials) {
          const email = String(credentials?.email ?? "").trim().toLowerCase();
          const password = String(credentials?.password ?? "");
          if (!email || !password || email.length > 320 || password.length > 1024) return null;
          if (!throttle.allow(email)) return null;
          const user = await findUserByEmail(db, email);
          const ok = await verifyPassword(password, user?.passwordHash);
          if (!user || !ok || user.disabled) {
            throttle.fail(email);
            if (user) await recordLogin(user, "denied", "password", user.disabled ? "user_disabled" : "bad_password");
            return null;
          }
          throttle.succeed(email);
          return { id: user.id, email: user.email, name: user.name, role: user.role, tenantId: user.tenantId, tenantSlug: user.tenantSlug };
        },
      }),
      ...(oidc ? [oidc] : []),
    ],
    callbacks: {
      async signIn({ user, account, profile }) {
        if (account?.provider !== "oidc") return true;
        // SSO never creates users: the vendor or the tenant admin provisions them, and SSO maps by verified email.
        const email = typeof profile?.email === "string" ? profile.email : user.email;
        if (!email || (profile as { email_verified?: unknown } | undefined)?.email_verified === false) return false;
        const known = await findUserByEmail(db, email);
        return !!known && !known.disabled;
      },
      async jwt({ token, user, account }) {
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
          token.authTime = Date.now();
          if (account?.provider === "oidc") await recordLogin(known, "success", "oidc");
        }
        return token;
      },
      async session({ session, token }) {
        const current = token.userId ? await users.get(token.userId) : null;
        if (!current) return { ...session, user: undefined as never };
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
