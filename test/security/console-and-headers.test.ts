// Issue 10 #19 (parts): the console's CSRF origin check compares scheme, host and port (it compared
// the host only); every API response says X-Content-Type-Options: nosniff; and each demo console
// user has a password of its own, so one tenant's admin cannot sign in as another's.
import { requireTenant } from "@/lib/broker/tenant-lookup";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sessionCookieName } from "@/lib/auth/config-shared";
import { createConsoleSessionResolver } from "@/lib/auth/console-session";
import { verifyPassword } from "@/lib/auth/password";
import { seedConsoleUsers } from "@/lib/auth/seed-users";
import { findUserByEmail } from "@/lib/auth/users";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { seedDemo } from "@/scripts/demo-seed";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";

const SECRET = "console-session-test-secret-0123456789";
let h: Harness;
let consoleRt: BrokerRuntime;
let consoleApi: ApiClient;
let proxiedRt: BrokerRuntime;
let cookie: string;

async function sessionCookie(email: string): Promise<string> {
  const user = (await findUserByEmail(h.runtime.db, email))!;
  const jwt = await encode({ token: { sub: user.id, userId: user.id, authTime: Date.now() }, secret: SECRET });
  return `${sessionCookieName(false)}=${jwt}`;
}

beforeAll(async () => {
  h = await startHarness();
  await h.api.createTenant("origin-check");
  const tenant = await requireTenant(h.runtime.ctx, "origin-check");
  await seedConsoleUsers(h.runtime.db, [{ id: tenant.id, slug: tenant.slug }], "origin-test-password");
  const config = loadConfig({ ...h.env, NEXTAUTH_SECRET: SECRET });
  // The console's API as it runs without NEXTAUTH_URL (origin from the request), and behind a TLS proxy.
  consoleRt = await startBrokerRuntime({ config, db: h.runtime.db, resolveSession: createConsoleSessionResolver(h.runtime.db, { secret: SECRET, secureCookies: false }) });
  proxiedRt = await startBrokerRuntime({
    config,
    db: h.runtime.db,
    resolveSession: createConsoleSessionResolver(h.runtime.db, { secret: SECRET, secureCookies: false, publicOrigin: "https://console.example" }),
  });
  consoleApi = new ApiClient(consoleRt.url);
  cookie = await sessionCookie("admin@origin-check.example");
});
afterAll(async () => {
  await proxiedRt?.close();
  await consoleRt?.close();
  await h?.close();
});

const createToken = (api: ApiClient, origin: string) =>
  api.call("POST", "/api/v1/tenants/origin-check/tokens", { body: { name: "from the console" }, headers: { cookie, "x-cmek-csrf": "1", origin } });

describe("CSRF origin check", () => {
  test("the console's own origin is accepted", async () => {
    expect((await createToken(consoleApi, consoleRt.url)).status).toBe(201);
    expect((await createToken(new ApiClient(proxiedRt.url), "https://console.example")).status).toBe(201);
  });

  test("the same host and port under another scheme is refused", async () => {
    const other = consoleRt.url.replace(/^http:/, "https:");
    const r = await createToken(consoleApi, other);
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain("cross-origin");
    const proxied = await createToken(new ApiClient(proxiedRt.url), "http://console.example");
    expect(proxied.status).toBe(403);
  });

  test("another port of the same host is refused", async () => {
    expect((await createToken(consoleApi, "http://127.0.0.1:1")).status).toBe(403);
    expect((await createToken(new ApiClient(proxiedRt.url), "https://console.example:8443")).status).toBe(403);
  });
});

describe("X-Content-Type-Options", () => {
  test.each([
    ["a success", "GET", "/api/health"],
    ["the OpenAPI document", "GET", "/api/v1/openapi.json"],
    ["a 401", "POST", "/api/v1/tenants/origin-check/encrypt"],
    ["a 404", "GET", "/api/v1/nothing-here"],
    ["a 400", "GET", "/api/v1/tenants/NOT_A_SLUG"],
  ])("%s carries nosniff", async (_what, method, url) => {
    const r = await h.api.call(method, url, { body: method === "POST" ? {} : undefined });
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("demo console users", () => {
  test("the demo seeds a different password for every console user; none opens another user's account", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-demo-seed-"));
    try {
      const creds = await seedDemo(h.runtime.ctx, h.emulators, dataDir, "demo-admin-token-0123456789abcdef");
      const users = creds.consoleUsers;
      expect(users.map((u) => u.email)).toEqual(expect.arrayContaining(["ops@vendor.example", "admin@acme.example", "admin@globex.example", "auditor@initech.example"]));
      expect(new Set(users.map((u) => u.password)).size).toBe(users.length);
      const acmeAdmin = users.find((u) => u.email === "admin@acme.example")!;
      for (const u of users) {
        const stored = (await findUserByEmail(h.runtime.db, u.email))!;
        expect(await verifyPassword(u.password, stored.passwordHash)).toBe(true);
        if (u.email !== acmeAdmin.email) expect(await verifyPassword(acmeAdmin.password, stored.passwordHash)).toBe(false);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
