// TOTP step-up through the real broker over HTTP on real PostgreSQL. The test computes codes with
// its own RFC 6238 implementation (checked against the RFC's SHA-1 test vectors) from the seed
// the broker shows once. Once a user has a factor, a sensitive action is refused without a fresh
// assertion even right after a password sign-in, and allowed after one; a code is accepted once.
// A tenant that requires step-up refuses its admins without a factor until they enrol one.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Json } from "@/testkit/api-client";
import { startHarness, type Harness } from "../support/broker-harness";
import { startConsoleInstance, type ConsoleInstance } from "../support/console-instance";
import { SoftAuthenticator } from "../support/soft-authenticator";

let h: Harness;
let c: ConsoleInstance;
let now = Date.parse("2026-12-02T10:00:00Z");
const clock = () => now;
const slug = "step-up";
const base = `/api/v1/tenants/${slug}`;
let admin: string;

function base32Decode(s: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with HMAC-SHA1, `digits` digits, 30 s steps. */
function totp(seed: Buffer, atMs: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 30_000)));
  const mac = createHmac("sha1", seed).update(counter).digest();
  const o = mac[19]! & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 10 ** digits).padStart(digits, "0");
}

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  c = await startConsoleInstance(h, { instanceId: "step-up-console", clock });
  await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
  admin = await c.adminOf(slug);
}, 120_000);

afterAll(async () => {
  await c?.rt.close();
  await h?.close();
});

async function call(method: string, path: string, body?: unknown, userId = admin) {
  const res = await fetch(`${c.rt.url}${path}`, {
    method,
    headers: { ...c.headers(await c.cookie(userId)), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, Json> };
}

test("the test's TOTP matches RFC 6238's SHA-1 vectors", () => {
  const seed = Buffer.from("12345678901234567890");
  expect(totp(seed, 59_000, 8)).toBe("94287082");
  expect(totp(seed, 1_111_111_109_000, 8)).toBe("07081804");
  expect(totp(seed, 20_000_000_000_000, 8)).toBe("65353130");
});

describe("TOTP step-up", () => {
  let seed: Buffer;

  test("enrol: the seed is shown once, stored sealed, and confirmed with a computed code", async () => {
    const started = await call("POST", "/api/v1/me/factors/totp", { name: "phone" });
    expect(started.status).toBe(201);
    expect(started.body.otpauthUrl).toContain(`secret=${started.body.secret}`);
    seed = base32Decode(started.body.secret);
    const [row] = await h.runtime.db.query<{ totp_seed: string }>(`SELECT totp_seed FROM console_factor WHERE id = $1`, [started.body.factor.id]);
    expect(row!.totp_seed.startsWith("v1.")).toBe(true);
    expect(row!.totp_seed).not.toContain(seed.toString("base64url"));

    expect((await call("POST", `/api/v1/me/factors/${started.body.factor.id}/verify`, { code: totp(seed, now + 5 * 60_000) })).body.error.code).toBe("step_up_failed");
    const ok = await call("POST", `/api/v1/me/factors/${started.body.factor.id}/verify`, { code: totp(seed, now) });
    expect(ok.body).toMatchObject({ kind: "totp", verified: true });
    expect((await call("GET", "/api/v1/me/factors")).body.factors).toHaveLength(1);
  });

  test("a sensitive action is refused without a fresh assertion (a fresh password no longer suffices) and allowed with one", async () => {
    await h.api.admin("POST", `${base}/lock`, { reason: "step-up test" });
    const refused = await call("POST", `${base}/unlock`);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({ code: "step_up_required", enrolled: true });

    now += 30_000; // the enrolment used this step's code
    const stepped = await call("POST", "/api/v1/me/step-up", { kind: "totp", code: totp(seed, now) });
    expect(stepped.status).toBe(200);
    expect(Date.parse(stepped.body.stepUpUntil)).toBeGreaterThan(Date.now());
    expect((await call("POST", `${base}/unlock`)).status).toBe(200);
    const audit = (await h.api.admin("GET", `${base}/audit?action=step_up`)).body.events;
    expect(audit[0]).toMatchObject({ outcome: "success", detail: { kind: "totp" } });
  });

  test("a replayed code is refused, and a wrong one", async () => {
    const code = totp(seed, now);
    const replay = await call("POST", "/api/v1/me/step-up", { kind: "totp", code });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe("step_up_failed");
    // A code from ten minutes ahead lies outside the ±1 step window.
    expect((await call("POST", "/api/v1/me/step-up", { kind: "totp", code: totp(seed, now + 10 * 60_000) })).status).toBe(401);
    const denied = (await h.api.admin("GET", `${base}/audit?action=step_up&outcome=denied`)).body.events;
    expect(denied.length).toBeGreaterThanOrEqual(1);
  });

  test("a tenant can require step-up for all its admins: one without a factor must enrol first", async () => {
    const [other] = await h.runtime.db.query<{ id: string }>(
      `INSERT INTO console_user (id, email, role, tenant_id) SELECT gen_random_uuid(), $1, 'tenant_admin', id FROM tenant WHERE slug = $2 RETURNING id`,
      [`second@${slug}.example`, slug],
    );
    // Setting the policy is itself sensitive: the enrolled admin steps up first.
    now += 30_000;
    await call("POST", "/api/v1/me/step-up", { kind: "totp", code: totp(seed, now) });
    expect((await call("PUT", `${base}/quorum`, { actions: [], requiredApprovals: 1, requireStepUp: true })).status).toBe(200);
    const refused = await call("POST", `${base}/tokens`, { name: "svc" }, other!.id);
    expect(refused.body.error).toMatchObject({ code: "step_up_required", enrolled: false });
    // Enrolling is the one sensitive action a fresh password still allows.
    expect((await call("POST", "/api/v1/me/factors/totp", { name: "phone" }, other!.id)).status).toBe(201);
  });
});

describe("passkey step-up", () => {
  test("enrol a passkey, then a sensitive action is refused without a fresh assertion and allowed with one", async () => {
    const [u] = await h.runtime.db.query<{ id: string }>(
      `INSERT INTO console_user (id, email, role, tenant_id) SELECT gen_random_uuid(), $1, 'tenant_admin', id FROM tenant WHERE slug = $2 RETURNING id`,
      [`passkey@${slug}.example`, slug],
    );
    const user = u!.id;
    const authenticator = new SoftAuthenticator(c.rt.url);
    const options = await call("POST", "/api/v1/me/factors/passkey/options", undefined, user);
    expect(options.status).toBe(200);
    expect(options.body.rp.id).toBe(new URL(c.rt.url).hostname);
    const enrolled = await call("POST", "/api/v1/me/factors/passkey", { name: "laptop", credential: authenticator.create(options.body as never) }, user);
    expect(enrolled.status).toBe(201);
    expect(enrolled.body).toMatchObject({ kind: "passkey", verified: true });

    expect((await call("POST", `${base}/webhooks`, { url: "https://hooks.example.com/cmek" }, user)).body.error.code).toBe("step_up_required");
    const challenge = await call("POST", "/api/v1/me/step-up/challenge", undefined, user);
    expect(challenge.body.passkey.allowCredentials).toHaveLength(1);
    // An assertion over another challenge is refused.
    const forged = await call("POST", "/api/v1/me/step-up", { kind: "passkey", credential: authenticator.get({ challenge: "bm90LXRoZS1jaGFsbGVuZ2U" }) }, user);
    expect(forged.body.error.code).toBe("step_up_failed");
    const fresh = await call("POST", "/api/v1/me/step-up/challenge", undefined, user);
    const ok = await call("POST", "/api/v1/me/step-up", { kind: "passkey", credential: authenticator.get(fresh.body.passkey) }, user);
    expect(ok.status).toBe(200);
    expect((await call("POST", `${base}/webhooks`, { url: "https://hooks.example.com/cmek" }, user)).status).toBe(201);
  });
});
