// The API's console-session resolver: a next-auth session cookie becomes a ConsoleCaller carrying
// the sign-in time; state-changing requests must carry the CSRF header and our own Origin. Which
// actions then need a fresh sign-in is the permission table's flag, applied by authorize().
import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ConsoleCaller, ConsoleSessionResolver } from "@/lib/auth/caller";
import { createConsoleSessionResolver, CSRF_HEADER } from "@/lib/auth/console-session";
import { authorize } from "@/lib/auth/authorize";
import { ACTIONS, PERMISSIONS, REAUTH_WINDOW_MS } from "@/lib/auth/permissions";
import { seedConsoleUsers } from "@/lib/auth/seed-users";
import { BrokerError } from "@/lib/broker/errors";
import { openDatabase, type Database } from "@/lib/db/database";
import { migrate } from "@/lib/db/migrate";
import { createTestDatabase, type TestDatabase } from "../../testkit/postgres";

let tdb: TestDatabase;
let db: Database;
let resolve: ConsoleSessionResolver;
let userId: string;
const secret = randomBytes(32).toString("base64url");
const HOST = "console.example:3000";

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openDatabase({ databaseUrl: tdb.url });
  await migrate(db);
  const t = await db.prisma.tenant.create({ data: { slug: "sess", name: "Sess" } });
  await seedConsoleUsers(db, [{ id: t.id, slug: t.slug }], "unused-password");
  userId = (await db.prisma.consoleUser.findUniqueOrThrow({ where: { email: "admin@sess.example" } })).id;
  resolve = createConsoleSessionResolver(db, { secret, secureCookies: false });
}, 60_000);

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
});

async function request(method: string, opts: { ageMs?: number; headers?: Record<string, string>; cookie?: string | null } = {}): Promise<FastifyRequest> {
  const jwt = await encode({ token: { userId, authTime: Date.now() - (opts.ageMs ?? 0) }, secret });
  const cookie = opts.cookie === undefined ? `next-auth.session-token=${jwt}` : opts.cookie;
  const headers: Record<string, string> = { host: HOST, ...(cookie ? { cookie } : {}), ...(opts.headers ?? {}) };
  return { method, headers, protocol: "http" } as unknown as FastifyRequest;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof BrokerError) return e.code;
    throw e;
  }
}

const sameOrigin = { [CSRF_HEADER]: "1", origin: `http://${HOST}` };

describe("console session resolver", () => {
  test("a GET with a valid cookie resolves the user, role, tenant and sign-in time", async () => {
    const c = (await resolve(await request("GET", { ageMs: 1000 })))!;
    expect(c).toMatchObject({ kind: "console", role: "tenant_admin", tenantSlug: "sess", email: "admin@sess.example" });
    expect(Date.now() - c.authTime).toBeGreaterThanOrEqual(1000);
  });

  test("no cookie, or a cookie signed with another secret, is no session", async () => {
    expect(await resolve(await request("GET", { cookie: null }))).toBeNull();
    const forged = await encode({ token: { userId, authTime: Date.now() }, secret: randomBytes(32).toString("base64url") });
    expect(await resolve(await request("GET", { cookie: `next-auth.session-token=${forged}` }))).toBeNull();
  });

  test("a state-changing request without the CSRF header is forbidden", async () => {
    expect(await codeOf(resolve(await request("POST", { headers: { origin: `http://${HOST}` } })))).toBe("forbidden");
  });

  test("a state-changing request without an Origin, or from another origin, is forbidden", async () => {
    expect(await codeOf(resolve(await request("POST", { headers: { [CSRF_HEADER]: "1" } })))).toBe("forbidden");
    expect(await codeOf(resolve(await request("DELETE", { headers: { [CSRF_HEADER]: "1", origin: "http://evil.example" } })))).toBe("forbidden");
    expect(await codeOf(resolve(await request("PUT", { headers: { [CSRF_HEADER]: "1", origin: "not a url" } })))).toBe("forbidden");
  });

  test("with the header and our origin, a stale session still resolves: re-auth is decided per action, not per URL", async () => {
    const stale = (await resolve(await request("POST", { ageMs: REAUTH_WINDOW_MS + 60_000, headers: sameOrigin }))) as ConsoleCaller;
    const fresh = (await resolve(await request("POST", { ageMs: 0, headers: sameOrigin }))) as ConsoleCaller;
    for (const action of ACTIONS) {
      const rule = PERMISSIONS[action];
      if (!(rule.roles as readonly string[]).includes("tenant_admin")) continue;
      expect(await codeOf(Promise.resolve().then(() => authorize(fresh, action, "sess"))), action).toBe("ok");
      expect(await codeOf(Promise.resolve().then(() => authorize(stale, action, "sess"))), action).toBe(rule.freshSignIn ? "reauth_required" : "ok");
    }
  });
});
