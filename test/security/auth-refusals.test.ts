// Issue 10 #8: anonymous requests must not write into a tenant's audit chain one entry each, under
// request ids of their choosing. They are counted (cmek_auth_refusals_total) and summarized in one
// auth.refused entry per tenant and window; known callers with the wrong credential are still
// audited request by request.
import { requireTenant } from "@/lib/broker/tenant-lookup";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Registry } from "prom-client";
import { AuthRefusalRecorder } from "@/lib/broker/auth-refusals";
import type { Json } from "@/testkit/api-client";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let victimToken: string;
let victimId: string;
const victim = "refusal-victim";

beforeAll(async () => {
  h = await startHarness();
  victimToken = await h.api.readyTenant(victim, "aws", (await h.aws.createKeyForVendor()).keyArn);
  victimId = (await requireTenant(h.runtime.ctx, victim)).id;
});
afterAll(async () => {
  await h?.close();
});

type Row = {
  action: string;
  outcome: string;
  request_id: string | null;
  actor_type: string;
  actor_name: string | null;
  detail: Json;
};

/** The tenant's entries about requests (KMS calls an instance makes on its own are left out). */
async function entries(): Promise<Row[]> {
  return h.runtime.db.query<Row>(
    `SELECT action, outcome, request_id, actor_type, actor_name, detail FROM audit_event WHERE tenant_id = $1 AND action NOT LIKE 'kms.%' ORDER BY seq`,
    [victimId],
  );
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("unauthenticated refusals", () => {
  test("500 anonymous decrypts add no entry each: they are counted, then summarized once, without the senders' request ids", async () => {
    const rt = await h.startInstance();
    const api = new ApiClient(rt.url);
    const { ciphertext } = (await api.encrypt(victim, victimToken, "secret")).body;
    const before = (await entries()).length;

    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 10; batch++) {
      const rs = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          api.call("POST", `/api/v1/tenants/${victim}/decrypt`, { body: { ciphertext }, headers: { "x-request-id": `forged-${batch}-${i}` } }),
        ),
      );
      for (const r of rs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 500 });
    // Nothing reached the chain while the window is open.
    expect((await entries()).length).toBe(before);
    const metrics = String((await api.call("GET", "/api/metrics")).body);
    expect(metric(metrics, "cmek_auth_refusals_total", 'reason="missing_credentials"')).toBe(500);

    // Closing the instance ends the window: one summary for the tenant.
    await rt.close();
    const added = (await entries()).slice(before);
    expect(added).toHaveLength(1);
    const summary = added[0]!;
    expect(summary).toMatchObject({ action: "auth.refused", outcome: "denied", actor_type: "system", actor_name: "unauthenticated", request_id: null });
    expect(summary.detail).toMatchObject({ count: 500, operations: { decrypt: 500 }, reasons: { missing_credentials: 500 } });
    expect(JSON.stringify(added)).not.toContain("forged-");
  });

  test("invalid tokens are counted as invalid_credentials and summarized, not appended", async () => {
    const rt = await h.startInstance();
    const api = new ApiClient(rt.url);
    const before = (await entries()).length;
    for (let i = 0; i < 20; i++) {
      const r = await api.call("POST", `/api/v1/tenants/${victim}/encrypt`, { token: `cmk_not-a-real-token-${i}`, body: { plaintext: "aGVsbG8=" } });
      expect(r.status).toBe(401);
    }
    expect((await entries()).length).toBe(before);
    const metrics = String((await api.call("GET", "/api/metrics")).body);
    expect(metric(metrics, "cmek_auth_refusals_total", 'reason="invalid_credentials"')).toBe(20);
    await rt.close();
    const added = (await entries()).slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]!.detail).toMatchObject({ count: 20, operations: { encrypt: 20 }, reasons: { invalid_credentials: 20 } });
  });

  test("refusals naming a tenant that does not exist write nothing", async () => {
    const rt = await h.startInstance();
    const api = new ApiClient(rt.url);
    expect((await api.call("POST", "/api/v1/tenants/no-such-tenant/decrypt", { body: { ciphertext: "AAAA" } })).status).toBe(401);
    await rt.close();
    const rows = await h.runtime.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'auth.refused' AND detail->'operations' ? 'decrypt' AND tenant_id <> $1`, [victimId]);
    expect(rows[0]!.n).toBe(0);
  });
});

describe("the summary window", () => {
  test("each window that saw refusals writes one summary per tenant; an empty window writes nothing", async () => {
    const broker = h.runtime.ctx;
    const recorder = new AuthRefusalRecorder({ metrics: new Registry(), audit: broker.audit, tenantBySlug: (s) => broker.registry.getBySlug(s), windowMs: 300 });
    const before = (await entries()).length;
    recorder.start();
    try {
      for (let i = 0; i < 7; i++) recorder.note("missing_credentials", { slug: victim, operation: "encrypt" });
      recorder.note("invalid_credentials", { slug: victim, operation: "decrypt" });
      let added: Row[] = [];
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && added.length === 0; ) {
        await new Promise((r) => setTimeout(r, 50));
        added = (await entries()).slice(before);
      }
      expect(added).toHaveLength(1);
      expect(added[0]!.detail).toMatchObject({ count: 8, operations: { encrypt: 7, decrypt: 1 }, reasons: { missing_credentials: 7, invalid_credentials: 1 } });
      recorder.note("missing_credentials", { slug: victim, operation: "encrypt" });
    } finally {
      await recorder.stop();
    }
    const all = (await entries()).slice(before);
    expect(all.map((e) => e.detail.count)).toEqual([8, 1]);
  });
});

describe("known callers with the wrong credential are still audited one by one", () => {
  test("the admin token on the data path and another tenant's service token each leave their own entry with their request id", async () => {
    const otherToken = await h.api.readyTenant("refusal-other", "aws", (await h.aws.createKeyForVendor()).keyArn);
    const before = (await entries()).length;
    const asAdmin = await h.api.call("POST", `/api/v1/tenants/${victim}/encrypt`, { token: ADMIN_TOKEN, body: { plaintext: "aGVsbG8=" }, headers: { "x-request-id": "admin-on-data-path" } });
    expect(asAdmin.status).toBe(403);
    const asOther = await h.api.call("POST", `/api/v1/tenants/${victim}/encrypt`, { token: otherToken, body: { plaintext: "aGVsbG8=" }, headers: { "x-request-id": "other-tenant-token" } });
    expect(asOther.status).toBe(403);
    const added = (await entries()).slice(before);
    expect(added.map((e) => [e.action, e.outcome, e.actor_type, e.request_id])).toEqual([
      ["encrypt", "denied", "admin_token", "admin-on-data-path"],
      ["encrypt", "denied", "service_token", "other-tenant-token"],
    ]);
  });
});
