// A second broker instance that accepts console session cookies (as the console's server does),
// for the actions only a tenant's console admin may do (break-glass). Sessions are minted
// directly as next-auth JWTs, signed in `ageMs` ago.
import { randomBytes } from "node:crypto";
import { encode } from "next-auth/jwt";
import { createConsoleSessionResolver, CSRF_HEADER } from "@/lib/auth/console-session";
import { seedConsoleUsers } from "@/lib/auth/seed-users";
import type { Clock } from "@/lib/broker/clock";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import type { Harness } from "./broker-harness";

export interface ConsoleInstance {
  rt: BrokerRuntime;
  /** Seeds admin@<slug>.example (and the other demo roles) for these tenants; returns the admin's user id. */
  adminOf(slug: string): Promise<string>;
  cookie(userId: string, ageMs?: number): Promise<string>;
  /** Headers of a console request: the cookie, the CSRF header and the same origin. */
  headers(cookie: string): Record<string, string>;
}

/** `secret`: share one session secret between instances, so a cookie works on each (a cluster behind one console). */
export async function startConsoleInstance(h: Harness, opts: { instanceId: string; clock?: Clock; secret?: string }): Promise<ConsoleInstance> {
  const secret = opts.secret ?? randomBytes(32).toString("base64url");
  const rt = await startBrokerRuntime({
    config: loadConfig({ ...h.env, BROKER_INSTANCE_ID: opts.instanceId }),
    resolveSession: createConsoleSessionResolver(h.runtime.db, { secret, secureCookies: false }),
    clock: opts.clock,
  });
  return {
    rt,
    async adminOf(slug) {
      const tenants = await h.runtime.db.query<{ id: string; slug: string }>(`SELECT id, slug FROM tenant WHERE slug = $1`, [slug]);
      await seedConsoleUsers(h.runtime.db, tenants, "pw-not-used-here");
      const [u] = await h.runtime.db.query<{ id: string }>(`SELECT id FROM console_user WHERE email = $1`, [`admin@${slug}.example`]);
      return u!.id;
    },
    async cookie(userId, ageMs = 0) {
      const jwt = await encode({ token: { userId, authTime: Date.now() - ageMs }, secret });
      return `next-auth.session-token=${jwt}`;
    },
    headers: (cookie) => ({ cookie, [CSRF_HEADER]: "1", origin: rt.url }),
  };
}
