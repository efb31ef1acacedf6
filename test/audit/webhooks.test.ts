import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuditWriter } from "../../lib/audit/writer";
import { WebhookDispatcher } from "../../lib/audit/webhook-dispatcher";
import {
  createWebhookSubscription,
  deleteWebhookSubscription,
  listWebhookDeliveries,
  listWebhookSubscriptions,
  signWebhook,
  validateWebhookUrl,
  verifyWebhookSignature,
} from "../../lib/audit/webhooks";
import { AuditLiveFeed } from "../../lib/audit/live";
import { AuditQueryError } from "../../lib/audit/query";
import type { AuditEventRecord } from "../../lib/audit/canonical";
import { createTenant, createTestDb, sampleEntry, type TestDb } from "./helpers";

interface Received {
  at: number;
  headers: IncomingMessage["headers"];
  body: string;
}

let t: TestDb;
let server: Server;
let url: string;
let received: Received[] = [];
let respondWith = 200;

beforeAll(async () => {
  t = await createTestDb();
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ at: Date.now(), headers: req.headers, body });
      res.writeHead(respondWith).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await t?.drop();
});

async function waitFor<T>(fn: () => T | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("webhooks", () => {
  it("refuses non-http(s), credentialed and (by default) private URLs", () => {
    expect(() => validateWebhookUrl("ftp://example.com/x")).toThrow(AuditQueryError);
    expect(() => validateWebhookUrl("https://u:p@example.com/x")).toThrow(AuditQueryError);
    expect(() => validateWebhookUrl("http://127.0.0.1:9/x")).toThrow(/private/);
    expect(() => validateWebhookUrl("http://[::1]/x")).toThrow(/private/);
    expect(() => validateWebhookUrl("http://169.254.169.254/latest")).toThrow(/private/);
    expect(validateWebhookUrl("https://hooks.example.com/x").hostname).toBe("hooks.example.com");
    expect(validateWebhookUrl("http://127.0.0.1:9/x", { allowPrivate: true }).port).toBe("9");
  });

  it("delivers within 1 s, signed; tampering and replays are detected; survives an outage with retries and a delivery log", async () => {
    const tenant = await createTenant(t.db);
    const writer = new AuditWriter(t.db);
    await writer.record(sampleEntry(tenant, 0)); // before the subscription: must not be delivered
    const { subscription, secret } = await createWebhookSubscription(t.db, tenant, url, { allowPrivate: true });
    expect(secret).toMatch(/^whsec_/);
    const listed = await listWebhookSubscriptions(t.db, tenant);
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const dispatcher = new WebhookDispatcher(t.db, writer, { baseBackoffMs: 100, maxBackoffMs: 400, allowPrivate: true });
    await dispatcher.start();
    received = [];
    const sent = Date.now();
    await Promise.all([1, 2, 3].map((i) => writer.record(sampleEntry(tenant, i))));
    const first = await waitFor(() => received[0], 1000);
    console.log(`[audit] webhook delivered ${first.at - sent} ms after the entries were recorded`);
    expect(first.at - sent).toBeLessThan(1000);

    const ts = String(first.headers["x-cmek-timestamp"]);
    const sig = String(first.headers["x-cmek-signature"]);
    const id = String(first.headers["x-cmek-delivery-id"]);
    const body = JSON.parse(first.body) as { deliveryId: string; events: AuditEventRecord[] };
    expect(body.deliveryId).toBe(id);
    expect(body.events.map((e) => e.seq)).toEqual([2, 3, 4]);
    const seen = new Set<string>();
    expect(verifyWebhookSignature(secret, ts, first.body, sig, { seenIds: seen, deliveryId: id })).toEqual({ ok: true, deliveryId: id });
    expect(verifyWebhookSignature(secret, ts, first.body, sig, { seenIds: seen })).toEqual({ ok: false, reason: "replayed" });
    expect(verifyWebhookSignature(secret, ts, first.body.replace('"decrypt"', '"encrypt"'), sig)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyWebhookSignature("whsec_wrong", ts, first.body, sig)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyWebhookSignature(secret, ts, first.body, sig, { now: (Number(ts) + 3600) * 1000 })).toEqual({ ok: false, reason: "stale_timestamp" });
    // A header swapped to dodge the seen-id check no longer matches the signed body.
    expect(verifyWebhookSignature(secret, ts, first.body, sig, { deliveryId: "other" })).toEqual({ ok: false, reason: "malformed" });
    const oldTs = String(Number(ts) - 3600);
    expect(verifyWebhookSignature(secret, oldTs, first.body, signWebhook(secret, oldTs, first.body))).toEqual({ ok: false, reason: "stale_timestamp" });

    // Receiver outage: 503 for a while, then back.
    respondWith = 503;
    received = [];
    await writer.record(sampleEntry(tenant, 4));
    await waitFor(() => received.length >= 3, 5000);
    respondWith = 200;
    const failures = received.length;
    const recovered = await waitFor(() => received.length > failures && received[received.length - 1], 5000);
    const retryIds = new Set(received.map((r) => r.headers["x-cmek-delivery-id"]));
    expect(retryIds.size).toBe(1); // retries of one batch keep its delivery id
    expect(JSON.parse(recovered.body).events.map((e: AuditEventRecord) => e.seq)).toEqual([5]);
    let forBatch: Awaited<ReturnType<typeof listWebhookDeliveries>> = [];
    for (const end = Date.now() + 2000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
      forBatch = (await listWebhookDeliveries(t.db, tenant, subscription.id)).filter((d) => d.firstSeq === 5);
      if (forBatch.some((d) => d.status === 200)) break;
    }
    expect(forBatch.filter((d) => d.status === 503).length).toBeGreaterThanOrEqual(3);
    expect(forBatch.some((d) => d.status === 200)).toBe(true);
    expect(forBatch.find((d) => d.status === 503)?.error).toBe("HTTP 503");
    expect(Math.max(...forBatch.map((d) => d.attempt))).toBeGreaterThanOrEqual(4);

    // Restart: a new dispatcher resumes from the stored cursor (no re-delivery of 2..5, delivery of 6).
    await dispatcher.stop();
    const cursor = (await listWebhookSubscriptions(t.db, tenant))[0]!.cursorSeq;
    expect(cursor).toBe(5);
    await writer.record(sampleEntry(tenant, 6)); // written while no dispatcher runs
    received = [];
    const again = new WebhookDispatcher(t.db, writer, { baseBackoffMs: 100, allowPrivate: true });
    await again.start();
    const resumed = await waitFor(() => received[0], 2000);
    expect(JSON.parse(resumed.body).events.map((e: AuditEventRecord) => e.seq)).toEqual([6]);

    expect(await deleteWebhookSubscription(t.db, tenant, subscription.id)).toBe(true);
    expect(await deleteWebhookSubscription(t.db, tenant, subscription.id)).toBe(false);
    expect(await listWebhookSubscriptions(t.db, tenant)).toHaveLength(0);
    await again.stop();
    await writer.close();
  });

  it("a slow receiver does not slow the writer", async () => {
    const tenant = await createTenant(t.db);
    const slow = createServer((_req, res) => setTimeout(() => res.writeHead(200).end(), 3000));
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    const writer = new AuditWriter(t.db);
    await createWebhookSubscription(t.db, tenant, `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, { allowPrivate: true });
    const dispatcher = new WebhookDispatcher(t.db, writer, { requestTimeoutMs: 500, baseBackoffMs: 100, allowPrivate: true });
    await dispatcher.start();
    await writer.record(sampleEntry(tenant, 1));
    const started = performance.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => writer.record(sampleEntry(tenant, i + 2))));
    // A correctness bound: a writer that waited on the receiver (3 s) would wait at least the
    // dispatcher's 500 ms request timeout; 200 batched records take a few tens of ms.
    expect(performance.now() - started).toBeLessThan(500);
    await dispatcher.stop();
    await writer.close();
    slow.closeAllConnections();
    await new Promise((r) => slow.close(r));
  });

  it("with two instances each event is delivered once, within 1 s wherever it was written; the survivor takes over", async () => {
    const other = await t.openAnother();
    const tenant = await createTenant(t.db);
    const writerA = new AuditWriter(t.db);
    const writerB = new AuditWriter(other);
    await createWebhookSubscription(t.db, tenant, url, { allowPrivate: true });
    const a = new WebhookDispatcher(t.db, writerA, { pollMs: 200, listen: false, allowPrivate: true });
    const b = new WebhookDispatcher(other, writerB, { pollMs: 200, listen: false, allowPrivate: true });
    await a.start();
    await b.start();
    received = [];
    const delivered = () =>
      received.flatMap((r) => (JSON.parse(r.body) as { events: AuditEventRecord[] }).events.filter((e) => e.tenantId === tenant).map((e) => e.seq));
    const sent = Date.now();
    for (let i = 1; i <= 20; i++) await (i % 2 ? writerA : writerB).record(sampleEntry(tenant, i));
    await waitFor(() => delivered().length >= 20, 2000);
    expect(Date.now() - sent).toBeLessThan(1000 + 200);
    await new Promise((r) => setTimeout(r, 600)); // time for any duplicate to show up
    expect(delivered()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    // Whichever instance delivered, stopping both in turn leaves no gap: the other takes over.
    await a.stop();
    await writerB.record(sampleEntry(tenant, 21));
    await waitFor(() => delivered().includes(21), 2000);
    await b.stop();
    expect(delivered()).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    await Promise.all([writerA.close(), writerB.close()]);
    await other.close();
  });
});

describe("live feed", () => {
  it("fans durable rows out per tenant", async () => {
    const writer = new AuditWriter(t.db);
    const feed = new AuditLiveFeed(t.db);
    feed.attach(writer);
    const a = await createTenant(t.db);
    const b = await createTenant(t.db);
    const gotA: number[] = [];
    const stop = await feed.subscribe(a, (e) => gotA.push(e.seq));
    await feed.subscribe(b, () => {
      throw new Error("broken listener");
    });
    await Promise.all([writer.record(sampleEntry(a, 1)), writer.record(sampleEntry(b, 1)), writer.record(sampleEntry(a, 2))]);
    expect(gotA).toEqual([1, 2]);
    stop();
    await writer.record(sampleEntry(a, 3));
    expect(gotA).toEqual([1, 2]);
    expect(feed.subscriberCount()).toBe(1);
    feed.close();
    await writer.close();
  });

  it("also carries rows another instance wrote, in seq order, each once", async () => {
    const other = await t.openAnother();
    const local = new AuditWriter(t.db);
    const remote = new AuditWriter(other);
    const feed = new AuditLiveFeed(t.db, { pollMs: 100 });
    feed.attach(local);
    const tenant = await createTenant(t.db);
    await local.record(sampleEntry(tenant, 0)); // before subscribing: not delivered
    const got: AuditEventRecord[] = [];
    await feed.subscribe(tenant, (e) => got.push(e));
    // Interleaved writes of both instances to one chain; the local ones arrive with gaps.
    for (let i = 1; i <= 40; i++) {
      const w = i % 3 === 0 ? local : remote;
      await w.record(sampleEntry(tenant, i));
    }
    const remoteOnly = await createTenant(t.db);
    const gotRemote: number[] = [];
    await feed.subscribe(remoteOnly, (e) => gotRemote.push(e.seq));
    const sentAt = Date.now();
    await remote.record(sampleEntry(remoteOnly, 1));
    for (let i = 0; i < 50 && (got.length < 40 || gotRemote.length < 1); i++) await new Promise((r) => setTimeout(r, 50));
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
    expect(got.every((e) => e.tenantId === tenant && e.hash.length > 0)).toBe(true);
    expect(gotRemote).toEqual([1]);
    expect(Date.now() - sentAt).toBeLessThan(1000);
    feed.close();
    await Promise.all([local.close(), remote.close()]);
    await other.close();
  });
});
