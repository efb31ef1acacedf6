// M-of-N approvals through the real broker over HTTP, on real PostgreSQL and the AWS KMS emulator.
// Three tenant admins, a 2-of-3 quorum on unlock: the requester's unlock waits (202) until two
// other admins approve; the requester's own approval and a repeated approval do not count; a
// request expires (injected clock) or is cancelled; two approvals arriving at once on two
// instances run the unlock once; the vendor admin token cannot unlock or weaken the quorum.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhookSignature } from "@/lib/audit/webhooks";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Json } from "@/testkit/api-client";
import { startHarness, type Harness } from "../support/broker-harness";
import { startConsoleInstance, type ConsoleInstance } from "../support/console-instance";
import { waitFor } from "../support/wait";

let h: Harness;
let a: ConsoleInstance;
let b: ConsoleInstance;
let now = Date.parse("2026-12-02T10:00:00Z");
const clock = () => now;
const slug = "quorum-unlock";
const base = `/api/v1/tenants/${slug}`;
const admins: string[] = [];
let receiver: http.Server;
const received: Array<{ body: string; timestamp: string; signature: string }> = [];
let webhookSecret: string;

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
  // The receiver lives on loopback, which the broker refuses outside the demo.
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_WEBHOOK_ALLOW_PRIVATE: "on" });
  const secret = randomBytes(32).toString("base64url");
  a = await startConsoleInstance(h, { instanceId: "quorum-a", clock, secret });
  b = await startConsoleInstance(h, { instanceId: "quorum-b", clock, secret });
  await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
  admins.push(await a.adminOf(slug));
  for (const n of [2, 3]) {
    const [u] = await h.runtime.db.query<{ id: string }>(
      `INSERT INTO console_user (id, email, role, tenant_id) SELECT gen_random_uuid(), $1, 'tenant_admin', id FROM tenant WHERE slug = $2 RETURNING id`,
      [`admin${n}@${slug}.example`, slug],
    );
    admins.push(u!.id);
  }
  const hook = await h.api.admin("POST", `${base}/webhooks`, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
  expect(hook.status).toBe(201);
  webhookSecret = hook.body.secret;
}, 120_000);

afterAll(async () => {
  await a?.rt.close();
  await b?.rt.close();
  await h?.close();
  receiver?.close();
});

/** A console request as tenant admin `n` (1-3), signed in just now, on instance `on`. */
async function as(n: number, method: string, path: string, body?: unknown, on: ConsoleInstance = a) {
  const res = await fetch(`${on.rt.url}${path}`, {
    method,
    headers: { ...on.headers(await on.cookie(admins[n - 1]!)), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, Json> };
}

const state = async () => (await h.api.admin("GET", base)).body.tenant.state as string;
const lock = async () => expect((await h.api.admin("POST", `${base}/lock`, { reason: "kill switch drill" })).status).toBe(200);
const unlocks = async () => (await h.api.admin("GET", `${base}/audit?action=tenant.unlock`)).body.events.length as number;

describe("2-of-3 quorum on unlock", () => {
  test("a tenant admin sets the quorum; M cannot exceed the other admins; the vendor admin cannot set it", async () => {
    expect((await as(1, "PUT", `${base}/quorum`, { actions: ["tenant.unlock"], requiredApprovals: 3, requireStepUp: false })).body.error.code).toBe("invalid_request");
    const set = await as(1, "PUT", `${base}/quorum`, { actions: ["tenant.unlock", "quorum.policy"], requiredApprovals: 2, requireStepUp: false });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ actions: ["tenant.unlock", "quorum.policy"], requiredApprovals: 2, admins: 3 });
    expect((await h.api.admin("PUT", `${base}/quorum`, { actions: [], requiredApprovals: 1, requireStepUp: false })).status).toBe(403);
  });

  test("the vendor admin token can lock but cannot unlock under quorum", async () => {
    await lock();
    const r = await h.api.admin("POST", `${base}/unlock`);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("quorum_required");
    expect(await state()).toBe("locked");
  });

  test("an unlock waits for two other admins; the requester's and a repeated approval do not count", async () => {
    const before = await unlocks();
    const req = await as(1, "POST", `${base}/unlock`);
    expect(req.status).toBe(202);
    const id = req.body.approval.id as string;
    expect(req.body.approval).toMatchObject({ action: "tenant.unlock", status: "pending", params: "{}", requiredApprovals: 2, approvals: [] });
    expect(await state()).toBe("locked");

    expect((await as(1, "POST", `${base}/approvals/${id}/approve`)).status).toBe(403);
    const first = await as(2, "POST", `${base}/approvals/${id}/approve`);
    expect(first.body).toMatchObject({ status: "pending", approvals: [expect.objectContaining({ userId: admins[1] })] });
    const again = await as(2, "POST", `${base}/approvals/${id}/approve`);
    expect(again.body.approvals).toHaveLength(1);
    expect(await state()).toBe("locked");

    const second = await as(3, "POST", `${base}/approvals/${id}/approve`);
    expect(second.body).toMatchObject({ status: "executed", error: null });
    expect(second.body.approvals).toHaveLength(2);
    expect(await state()).toBe("active");
    expect(await unlocks()).toBe(before + 1);

    const listed = await as(2, "GET", `${base}/approvals?status=all`);
    expect(listed.body.requests[0]).toMatchObject({ id, status: "executed" });
    const history = (await h.api.admin("GET", `${base}/audit?action=approval.requested`)).body.events;
    expect(history[0].detail).toMatchObject({ approvalId: id, action: "tenant.unlock", requiredApprovals: 2 });
    const approved = (await h.api.admin("GET", `${base}/audit?action=approval.approved`)).body.events.filter((e: Json) => e.detail.approvalId === id);
    expect(approved).toHaveLength(2);

    // Approvers are told: approval.requested reaches the tenant's webhook, signed.
    const requested = await waitFor(
      () =>
        received.find((r) =>
          (JSON.parse(r.body) as { events: Array<{ action: string; detail: { approvalId?: string } }> }).events.some((e) => e.action === "approval.requested" && e.detail.approvalId === id),
        ) ?? null,
      { what: "the webhook receiver to get approval.requested", timeoutMs: 20_000 },
    );
    expect(verifyWebhookSignature(webhookSecret, requested.timestamp, requested.body, requested.signature).ok).toBe(true);
  });

  test("two approvals arriving at once on two instances run the unlock exactly once", async () => {
    await lock();
    const before = await unlocks();
    const id = (await as(1, "POST", `${base}/unlock`)).body.approval.id as string;
    const [x, y] = await Promise.all([as(2, "POST", `${base}/approvals/${id}/approve`, undefined, a), as(3, "POST", `${base}/approvals/${id}/approve`, undefined, b)]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect((await as(1, "GET", `${base}/approvals/${id}`)).body.status).toBe("executed");
    expect(await state()).toBe("active");
    expect(await unlocks()).toBe(before + 1);
    const executed = (await h.api.admin("GET", `${base}/audit?action=approval.executed`)).body.events.filter((e: Json) => e.detail.approvalId === id);
    expect(executed).toHaveLength(1);
  });

  test("the requester cancels; only the requester may; a cancelled request cannot be approved", async () => {
    await lock();
    const id = (await as(1, "POST", `${base}/unlock`)).body.approval.id as string;
    expect((await as(2, "POST", `${base}/approvals/${id}/cancel`)).status).toBe(403);
    expect((await as(1, "POST", `${base}/approvals/${id}/cancel`)).body.status).toBe("cancelled");
    expect((await as(2, "POST", `${base}/approvals/${id}/approve`)).status).toBe(409);
    expect(await state()).toBe("locked");
  });

  test("a request expires after 24 hours (injected clock) and can no longer be approved", async () => {
    const id = (await as(1, "POST", `${base}/unlock`)).body.approval.id as string;
    await as(2, "POST", `${base}/approvals/${id}/approve`);
    now += 24 * 60 * 60 * 1000 + 1;
    const late = await as(3, "POST", `${base}/approvals/${id}/approve`);
    expect(late.status).toBe(409);
    expect((await as(1, "GET", `${base}/approvals/${id}`)).body.status).toBe("expired");
    expect(await state()).toBe("locked");
    const expired = (await h.api.admin("GET", `${base}/audit?action=approval.expired`)).body.events.filter((e: Json) => e.detail.approvalId === id);
    expect(expired).toHaveLength(1);
  });

  test("weakening the quorum is itself an action under the current policy", async () => {
    const weaker = await as(1, "PUT", `${base}/quorum`, { actions: [], requiredApprovals: 1, requireStepUp: false });
    expect(weaker.status).toBe(202);
    expect(JSON.parse(weaker.body.approval.params)).toEqual({ actions: [], requiredApprovals: 1, requireStepUp: false });
    expect((await as(2, "GET", `${base}/quorum`)).body.actions).toEqual(["tenant.unlock", "quorum.policy"]);
    const id = weaker.body.approval.id as string;
    await as(2, "POST", `${base}/approvals/${id}/approve`);
    expect((await as(3, "POST", `${base}/approvals/${id}/approve`)).body.status).toBe("executed");
    expect((await as(2, "GET", `${base}/quorum`)).body.actions).toEqual([]);
    // Without a quorum, the unlock runs at once again.
    expect((await as(1, "POST", `${base}/unlock`)).status).toBe(200);
  });
});

describe("2-of-3 quorum on new service tokens", () => {
  test("the approval creates nothing; the requester's same request then runs once and gets the secret; a third one waits again", async () => {
    expect((await as(1, "PUT", `${base}/quorum`, { actions: ["token.create"], requiredApprovals: 2, requireStepUp: false })).status).toBe(200);
    const tokens = async () => ((await h.api.admin("GET", `${base}/tokens`)).body.tokens as Json[]).length;
    const before = await tokens();
    const asked = await as(1, "POST", `${base}/tokens`, { name: "svc-quorum" });
    expect(asked.status).toBe(202);
    const id = asked.body.approval.id as string;
    await as(2, "POST", `${base}/approvals/${id}/approve`);
    expect((await as(3, "POST", `${base}/approvals/${id}/approve`)).body.status).toBe("executed");
    expect(await tokens()).toBe(before);
    // Another admin's identical request does not consume the requester's approval.
    expect((await as(2, "POST", `${base}/tokens`, { name: "svc-quorum" })).status).toBe(202);
    const created = await as(1, "POST", `${base}/tokens`, { name: "svc-quorum" });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^cmk_/);
    expect(await tokens()).toBe(before + 1);
    expect((await as(1, "POST", `${base}/tokens`, { name: "svc-quorum" })).status).toBe(202);
  });

  test("the approval holds the token's scope: approving a decrypt-only token does not let an unrestricted one be made", async () => {
    const asked = await as(1, "POST", `${base}/tokens`, { name: "svc-reader", operations: ["decrypt"] });
    expect(asked.status).toBe(202);
    expect(JSON.parse(asked.body.approval.params as string)).toEqual({ name: "svc-reader", operations: ["decrypt"] });
    const id = asked.body.approval.id as string;
    await as(2, "POST", `${base}/approvals/${id}/approve`);
    expect((await as(3, "POST", `${base}/approvals/${id}/approve`)).body.status).toBe("executed");
    // The same name without the scope is another request: it waits for its own approval.
    expect((await as(1, "POST", `${base}/tokens`, { name: "svc-reader" })).status).toBe(202);
    const created = await as(1, "POST", `${base}/tokens`, { name: "svc-reader", operations: ["decrypt"] });
    expect(created.status).toBe(201);
    expect(created.body.scope).toEqual({ operations: ["decrypt"], dataClasses: null });
  });
});
