// Purpose policies and access windows through the real broker over HTTP, on real PostgreSQL and
// the AWS KMS emulator. A console instance with an injected clock serves the data requests
// (access windows and break-glass are judged on that clock: no sleeps); a policy changed on the
// first instance applies on a second, already warm, within one second (cluster bus).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { startConsoleInstance, type ConsoleInstance } from "../support/console-instance";
import { waitFor } from "../support/wait";

let h: Harness;
let c: ConsoleInstance;
let second: BrokerRuntime;
let now = Date.parse("2026-12-02T15:00:00Z"); // a Wednesday: 10:00 in New York
const clock = () => now;
let api: ApiClient;
const slug = "gov-purpose";
const base = `/api/v1/tenants/${slug}`;
let token: string;
let tokenId: string;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  c = await startConsoleInstance(h, { instanceId: "gov-console", clock });
  second = await h.startInstance({ BROKER_INSTANCE_ID: "gov-second" });
  api = new ApiClient(c.rt.url);
  const keyArn = (await h.aws.createKeyForVendor()).keyArn;
  await h.api.readyTenant(slug, "aws", keyArn);
  const created = await h.api.admin("POST", `${base}/tokens`, { name: "billing-svc" });
  token = created.body.token;
  tokenId = created.body.id;
}, 120_000);

afterAll(async () => {
  await c?.rt.close();
  await h?.close();
});

/** The audit entries of one request (by its x-request-id), as the tenant's log returns them. */
async function auditOf(requestId: string | null) {
  const r = await h.api.admin("GET", `${base}/audit?requestId=${requestId}`);
  return r.body.events as Array<{ action: string; outcome: string; reason: string | null; purpose: string | null }>;
}

const encrypt = (client: ApiClient, purpose?: string) => client.encrypt(slug, token, "payload", undefined, purpose);

describe("purpose policy", () => {
  test("allowed passes; not allowed and missing-when-required are 403 purpose_denied, audited with the purpose given and counted", async () => {
    const set = await api.admin("PUT", `${base}/tokens/${tokenId}/purpose-policy`, { allowedPurposes: ["customer_initiated_access", "backup_restore"], requirePurpose: true });
    expect(set.status).toBe(200);

    const ok = await encrypt(api, "customer_initiated_access");
    expect(ok.status).toBe(200);

    const wrong = await encrypt(api, "vendor_support");
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatchObject({ code: "purpose_denied", purpose: "vendor_support" });
    expect(await auditOf(wrong.headers.get("x-request-id"))).toEqual([expect.objectContaining({ action: "encrypt", outcome: "denied", reason: "purpose_not_allowed", purpose: "vendor_support" })]);

    const missing = await encrypt(api);
    expect(missing.status).toBe(403);
    expect(missing.body.error).toMatchObject({ code: "purpose_denied", purpose: null });
    expect(await auditOf(missing.headers.get("x-request-id"))).toEqual([expect.objectContaining({ outcome: "denied", reason: "purpose_missing", purpose: null })]);

    // Decrypt is held to the same policy.
    const dec = await api.decrypt(slug, token, ok.body.ciphertext, undefined, "vendor_support");
    expect(dec.body.error?.code).toBe("purpose_denied");

    const metrics = await fetch(`${c.rt.url}/api/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/cmek_policy_refusals_total\{operation="encrypt",reason="purpose_not_allowed"\} 1/);
    expect(metrics).toMatch(/cmek_policy_refusals_total\{operation="encrypt",reason="purpose_missing"\} 1/);

    const changes = await h.api.admin("GET", `${base}/audit?action=governance.policy`);
    expect(changes.body.events[0].detail).toMatchObject({ resource: "purpose_policy", tokenId });
  });

  test("a policy change on one instance takes effect on another within one second", async () => {
    const other = new ApiClient(second.url);
    await h.api.admin("PUT", `${base}/tokens/${tokenId}/purpose-policy`, { allowedPurposes: ["customer_initiated_access", "backup_restore"], requirePurpose: true });
    // The second instance serves backup_restore, so it holds the policy in memory.
    await waitFor(async () => (await encrypt(other, "backup_restore")).status === 200, { what: "the second instance to serve backup_restore" });
    const changed = await h.api.admin("PUT", `${base}/tokens/${tokenId}/purpose-policy`, { allowedPurposes: ["customer_initiated_access"], requirePurpose: true });
    expect(changed.status).toBe(200);
    const at = Date.now();
    await waitFor(async () => (await encrypt(other, "backup_restore")).body.error?.code === "purpose_denied", { what: "the second instance to refuse backup_restore", timeoutMs: 1000 });
    expect(Date.now() - at).toBeLessThan(1000);
    await h.api.admin("PUT", `${base}/tokens/${tokenId}/purpose-policy`, { allowedPurposes: null, requirePurpose: false });
  });
});

describe("access windows", () => {
  test("read in the tenant's time zone: inside passes, outside is 403 outside_access_window and audited; a maintenance window opens it", async () => {
    expect((await api.admin("PUT", `${base}/time-zone`, { timeZone: "Mars/Olympus" })).status).toBe(400);
    expect((await api.admin("PUT", `${base}/time-zone`, { timeZone: "America/New_York" })).body).toEqual({ timeZone: "America/New_York" });
    const set = await api.admin("PUT", `${base}/tokens/${tokenId}/access-windows`, { weekly: [{ days: [1, 2, 3, 4, 5], start: "09:00", end: "17:00" }] });
    expect(set.body).toMatchObject({ timeZone: "America/New_York", weekly: [{ days: [1, 2, 3, 4, 5], start: "09:00", end: "17:00" }] });

    now = Date.parse("2026-12-02T15:00:00Z"); // Wednesday 10:00 in New York
    expect((await encrypt(api)).status).toBe(200);

    now = Date.parse("2026-12-03T01:00:00Z"); // Wednesday 20:00 in New York (Thursday in UTC)
    const late = await encrypt(api, "customer_initiated_access");
    expect(late.status).toBe(403);
    expect(late.body.error).toMatchObject({ code: "outside_access_window", timeZone: "America/New_York" });
    expect(await auditOf(late.headers.get("x-request-id"))).toEqual([expect.objectContaining({ outcome: "denied", reason: "outside_access_window", purpose: "customer_initiated_access" })]);

    now = Date.parse("2026-12-05T16:00:00Z"); // Saturday 11:00 in New York
    expect((await encrypt(api)).body.error?.code).toBe("outside_access_window");
    const mw = await api.admin("POST", `${base}/maintenance-windows`, { tokenId, startsAt: "2026-12-05T15:00:00Z", endsAt: "2026-12-05T17:00:00Z", note: "storage migration" });
    expect(mw.status).toBe(201);
    expect((await encrypt(api)).status).toBe(200);
  });

  test("break-glass: a tenant admin's exception lets the token in, is audited, and expires", async () => {
    now = Date.parse("2026-12-03T01:00:00Z"); // Wednesday 20:00 in New York: outside
    expect((await encrypt(api)).body.error?.code).toBe("outside_access_window");

    const admin = await c.adminOf(slug);
    const grant = (cookie: string) =>
      fetch(`${c.rt.url}${base}/break-glass`, {
        method: "POST",
        headers: { ...c.headers(cookie), "content-type": "application/json" },
        body: JSON.stringify({ tokenId, reason: "incident 4711: restore a customer's export", durationMinutes: 30 }),
      });
    expect((await grant(await c.cookie(admin, 10 * 60_000))).status).toBe(401); // stale sign-in: reauth_required
    expect((await h.api.admin("POST", `${base}/break-glass`, { tokenId, reason: "the vendor grants itself", durationMinutes: 30 })).status).toBe(403);
    const res = await grant(await c.cookie(admin));
    expect(res.status).toBe(201);
    const g = (await res.json()) as { id: string; active: boolean; expiresAt: string };
    expect(g).toMatchObject({ active: true, expiresAt: new Date(now + 30 * 60_000).toISOString() });

    const inside = await encrypt(api);
    expect(inside.status).toBe(200);
    expect(await auditOf(inside.headers.get("x-request-id"))).toEqual([expect.objectContaining({ outcome: "success", reason: `break_glass:${g.id}` })]);
    const audited = await h.api.admin("GET", `${base}/audit?action=governance.break_glass`);
    expect(audited.body.events).toEqual([
      expect.objectContaining({ actorName: `admin@${slug}.example`, detail: expect.objectContaining({ grantId: g.id, change: "granted", reason: "incident 4711: restore a customer's export" }) }),
    ]);

    now += 31 * 60_000;
    expect((await encrypt(api)).body.error?.code).toBe("outside_access_window");
    const list = await api.admin("GET", `${base}/break-glass`);
    expect(list.body.grants).toEqual([expect.objectContaining({ id: g.id, active: false })]);
  });
});
