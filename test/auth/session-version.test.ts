// Finding #14 at the API's session resolver, on real PostgreSQL: a session cookie issued before
// the user signed out is refused, at once on the instance that handled the sign-out (whose
// user cache would otherwise keep the user for its TTL) and within the cache TTL elsewhere.
// The browser path (sign out in Chromium, replay the copied cookie) is e2e/session-end.spec.ts.
import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { encode, type JWT } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createConsoleSessionResolver } from "@/lib/auth/console-session";
import { ActiveUserCache, endSessions } from "@/lib/auth/users";
import { openDatabase, type Database } from "@/lib/db/database";
import { migrate } from "@/lib/db/migrate";
import { createTestDatabase, type TestDatabase } from "../../testkit/postgres";

const SECRET = randomBytes(32).toString("base64url");
let database: TestDatabase;
let db: Database;
let userId: string;

beforeAll(async () => {
  database = await createTestDatabase("cmek_session_version");
  db = await openDatabase({ databaseUrl: database.url });
  await migrate(db);
  const user = await db.prisma.consoleUser.create({ data: { email: "ops@vendor.example", role: "vendor_ops" } });
  userId = user.id;
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

async function cookieFor(claims: Partial<JWT>): Promise<string> {
  const token = await encode({ token: { sub: userId, userId, email: "ops@vendor.example", role: "vendor_ops", authTime: Date.now(), ...claims }, secret: SECRET });
  return `next-auth.session-token=${token}`;
}

/** What the resolver reads from a Fastify request: a GET, so the CSRF and re-auth checks do not apply. */
function getRequest(cookie: string): FastifyRequest {
  return { method: "GET", headers: { cookie }, routeOptions: { url: "/api/v1/me" } } as unknown as FastifyRequest;
}

async function currentVersion(): Promise<number> {
  return (await db.prisma.consoleUser.findUniqueOrThrow({ where: { id: userId } })).sessionVersion;
}

describe("session version", () => {
  test("signing out refuses a copy of the old session cookie at once, though the user was cached", async () => {
    const resolve = createConsoleSessionResolver(db, { secret: SECRET, secureCookies: false });
    const old = await cookieFor({ sessionVersion: await currentVersion() });
    expect((await resolve(getRequest(old)))?.userId).toBe(userId);
    await endSessions(db, userId);
    expect(await resolve(getRequest(old))).toBeNull();
    // The next sign-in's session (with the new version) is accepted straight away.
    const fresh = await cookieFor({ sessionVersion: await currentVersion() });
    expect((await resolve(getRequest(fresh)))?.userId).toBe(userId);
    expect(await resolve(getRequest(old))).toBeNull();
  });

  test("a session from before session versions counts as version 0 and ends at the first sign-out", async () => {
    await db.prisma.consoleUser.update({ where: { id: userId }, data: { sessionVersion: 0 } });
    ActiveUserCache.forgetEverywhere(userId);
    const resolve = createConsoleSessionResolver(db, { secret: SECRET, secureCookies: false });
    const legacy = await cookieFor({});
    expect((await resolve(getRequest(legacy)))?.userId).toBe(userId);
    await endSessions(db, userId);
    expect(await resolve(getRequest(legacy))).toBeNull();
  });

  test("a malformed session version is refused", async () => {
    const resolve = createConsoleSessionResolver(db, { secret: SECRET, secureCookies: false });
    for (const bad of [-1, 1.5, "1", null]) {
      expect(await resolve(getRequest(await cookieFor({ sessionVersion: bad as number })))).toBeNull();
    }
  });

  test("a sign-out on another instance (a bump this process did not see) ends the session here within the cache TTL", async () => {
    const ttlMs = 300;
    const cache = new ActiveUserCache(db, ttlMs);
    const version = await currentVersion();
    expect((await cache.get(userId, version))?.sessionVersion).toBe(version);
    // Another instance signs the user out: only the database changes.
    const bumpedAt = Date.now();
    await db.prisma.consoleUser.update({ where: { id: userId }, data: { sessionVersion: { increment: 1 } } });
    while ((await cache.get(userId, version))?.sessionVersion === version) {
      expect(Date.now() - bumpedAt).toBeLessThan(ttlMs + 1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(Date.now() - bumpedAt).toBeLessThanOrEqual(ttlMs + 100);
    // A cached record older than the session asking is reloaded at once (signed out and in again elsewhere).
    const stale = new ActiveUserCache(db, 60_000);
    const before = await stale.get(userId, null);
    await db.prisma.consoleUser.update({ where: { id: userId }, data: { sessionVersion: { increment: 1 } } });
    expect((await stale.get(userId, before!.sessionVersion + 1))?.sessionVersion).toBe(before!.sessionVersion + 1);
  });
});
