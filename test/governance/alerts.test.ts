// Alerts on unusual key use through the real broker over HTTP: baselines learned from real
// encrypt requests, minutes closed by moving the injected clock (no waiting for real minutes).
// A burst of 20x the baseline raises exactly one alert, which resolves once use is back to
// normal; the same period of steady traffic raises none; the alert reaches a webhook receiver
// signed, exactly once.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyWebhookSignature } from "@/lib/audit/webhooks";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { startConsoleInstance, type ConsoleInstance } from "../support/console-instance";
import { waitFor } from "../support/wait";

interface Received {
  body: string;
  timestamp: string;
  signature: string;
}

let h: Harness;
let c: ConsoleInstance;
let api: ApiClient;
let receiver: http.Server;
const received: Received[] = [];
// Start at a whole minute (plus a second), so each step below is one minute of the broker's clock.
let now = Math.floor(Date.now() / 60_000) * 60_000 + 1000;
const tokens: Record<string, string> = {};
const tokenIds: Record<string, string> = {};
const BASELINE = 2;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), timestamp: String(req.headers["x-cmek-timestamp"]), signature: String(req.headers["x-cmek-signature"]) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_WEBHOOK_ALLOW_PRIVATE: "on" });
  c = await startConsoleInstance(h, { instanceId: "alerts-console", clock: () => now });
  api = new ApiClient(c.rt.url);
  for (const slug of ["alerts-burst", "alerts-steady"]) {
    await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
    const t = await h.api.admin("POST", `/api/v1/tenants/${slug}/tokens`, { name: "jobs" });
    tokens[slug] = t.body.token;
    tokenIds[slug] = t.body.id;
    const th = await api.admin("PUT", `/api/v1/tenants/${slug}/alert-thresholds`, { learningMinutes: 3, resolveMinutes: 2, rateFloor: BASELINE });
    expect(th.body).toMatchObject({ learningMinutes: 3, resolveMinutes: 2, rateMultiple: 10, rateFloor: BASELINE });
  }
}, 120_000);

afterAll(async () => {
  await c?.rt.close();
  await h?.close();
  receiver?.close();
});

async function traffic(slug: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 20) {
    const batch = Array.from({ length: Math.min(20, n - i) }, () => api.encrypt(slug, tokens[slug]!, "x", undefined, "vendor_system_operation"));
    for (const r of await Promise.all(batch)) expect(r.status).toBe(200);
  }
}

/** Ends the current minute on the broker's clock and has the instance evaluate it. */
async function nextMinute(): Promise<void> {
  now += 60_000;
  await c.rt.ctx.usage.evaluate();
}

const alertsOf = async (slug: string) =>
  (await api.admin("GET", `/api/v1/tenants/${slug}/alerts?state=all`)).body.alerts as Array<{
    id: string;
    kind: string;
    subject: string;
    resolvedAt: string | null;
    detail: { observed: number; threshold: number };
  }>;

describe("alerts on unusual key use", () => {
  test("a 20x burst raises exactly one alert and resolves after; steady traffic raises none; the webhook is signed and delivered once", async () => {
    const hook = await h.api.admin("POST", "/api/v1/tenants/alerts-burst/webhooks", { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
    expect(hook.status).toBe(201);
    const secret = hook.body.secret as string;

    // Learning: steady use on both tenants for longer than learningMinutes.
    for (let m = 0; m < 4; m++) {
      await traffic("alerts-burst", BASELINE);
      await traffic("alerts-steady", BASELINE);
      await nextMinute();
    }
    expect(await alertsOf("alerts-burst")).toEqual([]);

    // One minute at 20x the baseline on one tenant, the usual rate on the other.
    await traffic("alerts-burst", 20 * BASELINE);
    await traffic("alerts-steady", BASELINE);
    await nextMinute();
    const raised = await alertsOf("alerts-burst");
    expect(raised).toEqual([expect.objectContaining({ kind: "rate_spike", subject: `token:${tokenIds["alerts-burst"]}`, resolvedAt: null })]);
    expect(raised[0]!.detail).toMatchObject({ observed: 20 * BASELINE, threshold: 10 * BASELINE });
    const fleet = await h.api.admin("GET", "/api/v1/fleet/alerts");
    expect(fleet.body.alerts).toEqual([expect.objectContaining({ id: raised[0]!.id, tenantSlug: "alerts-burst" })]);

    // Back to normal: the episode stays one alert, then resolves after resolveMinutes.
    for (let m = 0; m < 3; m++) {
      await traffic("alerts-burst", BASELINE);
      await traffic("alerts-steady", BASELINE);
      await nextMinute();
    }
    const after = await alertsOf("alerts-burst");
    expect(after).toHaveLength(1);
    expect(after[0]!.resolvedAt).not.toBeNull();
    expect(await alertsOf("alerts-steady")).toEqual([]);
    expect((await h.api.admin("GET", "/api/v1/fleet/alerts")).body.alerts).toEqual([]);

    const audit = await h.api.admin("GET", "/api/v1/tenants/alerts-burst/audit?action=alert.raised,alert.resolved");
    expect(audit.body.events.map((e: { action: string }) => e.action)).toEqual(["alert.resolved", "alert.raised"]);

    // Webhook: every delivery verifies; alert.raised and alert.resolved arrive exactly once each.
    const events = await waitFor(
      () => {
        const all = received.flatMap((r) => (JSON.parse(r.body) as { events: Array<{ action: string; detail: { alertId?: string } }> }).events);
        return all.some((e) => e.action === "alert.resolved") ? all : null;
      },
      { what: "the webhook receiver to get alert.resolved", timeoutMs: 20_000 },
    );
    for (const r of received) expect(verifyWebhookSignature(secret, r.timestamp, r.body, r.signature).ok).toBe(true);
    const alertEvents = events.filter((e) => e.action.startsWith("alert."));
    expect(alertEvents.map((e) => [e.action, e.detail.alertId])).toEqual([
      ["alert.raised", raised[0]!.id],
      ["alert.resolved", raised[0]!.id],
    ]);
  });
});
