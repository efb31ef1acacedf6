// Re-authentication through the real API with console session cookies: every action flagged
// freshSignIn in the permission table answers 401 reauth_required to a session signed in more
// than 5 minutes ago, and succeeds with a fresh one. Actions without the flag work with the
// stale session, and a stale session of another tenant still sees 404 (no existence oracle).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encode } from "next-auth/jwt";
import { seedConsoleUsers } from "@/lib/auth/seed-users";
import { createConsoleSessionResolver, CSRF_HEADER } from "@/lib/auth/console-session";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let rt: BrokerRuntime;
const secret = randomBytes(32).toString("base64url");
let keyArn: string;
let adminId: string;
let otherAdminId: string;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  keyArn = (await h.aws.createKeyForVendor()).keyArn;
  await h.api.readyTenant("reauth", "aws", keyArn);
  await h.api.createTenant("reauth-other");
  const ids = await h.runtime.db.query<{ id: string; slug: string }>(`SELECT id, slug FROM tenant WHERE slug IN ('reauth', 'reauth-other')`);
  await seedConsoleUsers(h.runtime.db, ids, "pw-not-used-here");
  const users = await h.runtime.db.query<{ id: string; email: string }>(`SELECT id, email FROM console_user`);
  adminId = users.find((u) => u.email === "admin@reauth.example")!.id;
  otherAdminId = users.find((u) => u.email === "admin@reauth-other.example")!.id;
  rt = await startBrokerRuntime({
    config: loadConfig({ ...h.env, BROKER_INSTANCE_ID: "reauth-console" }),
    resolveSession: createConsoleSessionResolver(h.runtime.db, { secret, secureCookies: false }),
  });
}, 60_000);

afterAll(async () => {
  await rt?.close();
  await h?.close();
});

async function session(userId: string, ageMs: number): Promise<string> {
  const jwt = await encode({ token: { userId, authTime: Date.now() - ageMs }, secret });
  return `next-auth.session-token=${jwt}`;
}

async function call(cookie: string, method: string, path: string, body?: unknown) {
  const res = await fetch(rt.url + path, {
    method,
    headers: { cookie, [CSRF_HEADER]: "1", origin: rt.url, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const STALE = 10 * 60_000;
const base = "/api/v1/tenants/reauth";

describe("actions that need a fresh sign-in", () => {
  // In an order that leaves each one possible: the webhook deleted is the one just created, the unlock follows the lock, the shred comes last.
  const steps: Array<{ action: string; method: string; path: (ctx: { webhookId?: string }) => string; body?: () => unknown; ok: number }> = [
    { action: "key.connect", method: "PUT", path: () => `${base}/key`, body: () => ({ provider: "aws", keyId: keyArn }), ok: 200 },
    { action: "tenant.settings", method: "PUT", path: () => `${base}/settings`, body: () => ({ manualResume: false }), ok: 200 },
    { action: "audit.retention", method: "PUT", path: () => `${base}/audit/retention`, body: () => ({ days: 30 }), ok: 200 },
    { action: "token.create", method: "POST", path: () => `${base}/tokens`, body: () => ({ name: "fresh-only" }), ok: 201 },
    { action: "webhook.create", method: "POST", path: () => `${base}/webhooks`, body: () => ({ url: "https://hooks.example.com/audit" }), ok: 201 },
    { action: "webhook.delete", method: "DELETE", path: (c) => `${base}/webhooks/${c.webhookId}`, ok: 204 },
    { action: "drill.run", method: "POST", path: () => `${base}/drill`, ok: 200 },
    { action: "tenant.lock", method: "POST", path: () => `${base}/lock`, body: () => ({ reason: "reauth test" }), ok: 200 },
    { action: "tenant.unlock", method: "POST", path: () => `${base}/unlock`, ok: 200 },
    // Last: nothing can be done with the tenant's data afterwards.
    { action: "tenant.shred", method: "POST", path: () => `${base}/shred`, body: () => ({ confirm: "reauth" }), ok: 200 },
  ];
  const state: { webhookId?: string } = {};

  for (const s of steps) {
    test(`${s.action}: a stale session gets 401 reauth_required, a fresh one ${s.ok}`, async () => {
      const stale = await call(await session(adminId, STALE), s.method, s.path(state), s.body?.());
      expect(stale.status).toBe(401);
      expect(stale.body.error.code).toBe("reauth_required");
      const fresh = await call(await session(adminId, 0), s.method, s.path(state), s.body?.());
      expect(fresh.status).toBe(s.ok);
      if (s.action === "webhook.create") state.webhookId = fresh.body.webhook.id;
    });
  }
});

describe("actions without the flag, and other tenants", () => {
  test("reading and revoking tokens works with a stale session", async () => {
    const cookie = await session(adminId, STALE);
    const list = await call(cookie, "GET", `${base}/tokens`);
    expect(list.status).toBe(200);
    const active = list.body.tokens.find((t: { revokedAt: string | null }) => t.revokedAt === null);
    expect((await call(cookie, "DELETE", `${base}/tokens/${active.id}`)).status).toBe(204);
    expect((await call(cookie, "GET", `${base}/audit/verify`)).status).toBe(200);
  });

  test("a stale session of another tenant's admin gets 404 tenant_not_found, not a re-auth prompt", async () => {
    const r = await call(await session(otherAdminId, STALE), "POST", `${base}/lock`, { reason: "not mine" });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("tenant_not_found");
  });

  test("a fresh session without the CSRF header is refused before any action runs", async () => {
    const res = await fetch(rt.url + `${base}/lock`, {
      method: "POST",
      headers: { cookie: await session(adminId, 0), origin: rt.url, "content-type": "application/json" },
      body: JSON.stringify({ reason: "csrf" }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
  });
});
