// The audit HTTP routes end to end: list filters and cursor pagination, verify (and what it
// says after a superuser edits a row), JSON Lines export verified offline by the CLI, CSV,
// the public key, webhooks (signed, within 1 s, delivery log), the SSE feed, and who may read.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyWebhookSignature } from "@/lib/audit";
import { CSV_COLUMNS } from "@/lib/audit/export";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/broker-harness";
import type { Json } from "@/testkit/api-client";


const run = promisify(execFile);
type Ev = Record<string, Json>;

let h: Harness;
let tmp: string;
const slug = "routes";
let token: string;
let tokenId: string;
let keyArn: string;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const withRid = (rid: string) => ({ "x-request-id": rid });

beforeAll(async () => {
  // Webhook receivers in this test live on loopback, which the broker refuses outside the demo.
  h = await startHarness({ BROKER_WEBHOOK_ALLOW_PRIVATE: "on" });
  await h.runtime.ctx.prober.stop();
  tmp = mkdtempSync(path.join(tmpdir(), "audit-routes-"));
  keyArn = (await h.aws.createKeyForVendor()).keyArn;
  token = await h.api.readyTenant(slug, "aws", keyArn);
  tokenId = (await h.api.admin("GET", `/api/v1/tenants/${slug}/tokens`)).body.tokens[0].id;
  // Some traffic with distinct purposes and outcomes to filter on.
  for (let i = 0; i < 6; i++) {
    const enc = await h.api.encrypt(slug, token, `row ${i}`, undefined, i % 2 ? "odd" : "even");
    expect(enc.status).toBe(200);
    expect((await h.api.decrypt(slug, token, enc.body.ciphertext, undefined, "read")).status).toBe(200);
  }
  expect((await h.api.decrypt(slug, token, b64("junk"))).status).toBe(422);
});
afterAll(async () => {
  await h?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const list = async (qs: string) => {
  const r = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?${qs}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { events: Ev[]; nextCursor: string | null };
};

describe("list", () => {
  test("filters: action, outcome, actor, purpose, keyRef, requestId, time range", async () => {
    const enc = await list("action=encrypt");
    expect(enc.events).toHaveLength(6);
    expect(enc.events.every((e) => e.action === "encrypt")).toBe(true);
    expect((await list("action=encrypt,decrypt")).events).toHaveLength(13);
    expect((await list("outcome=invalid")).events.map((e) => `${e.action}:${e.reason}`)).toEqual(["decrypt:invalid_ciphertext"]);
    expect((await list(`actor=${tokenId}`)).events.every((e) => e.actorId === tokenId)).toBe(true);
    expect((await list("actor=admin_token")).events.map((e) => e.action).sort()).toEqual(["key.connect", "key.validate", "kms.unwrap", "kms.wrap", "tenant.create", "token.create"]);
    expect((await list("purpose=odd")).events).toHaveLength(3);
    expect((await list("purpose=read&action=decrypt")).events).toHaveLength(6);
    const byKey = (await list(`keyRef=${encodeURIComponent(keyArn)}`)).events;
    expect(byKey.length).toBeGreaterThanOrEqual(4);
    expect(byKey.every((e) => e.keyRef === keyArn)).toBe(true);

    const rid = `rid-${randomUUID()}`;
    const before = new Date(Date.now() - 1).toISOString();
    await h.api.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("x") }, headers: withRid(rid) });
    const byRid = (await list(`requestId=${rid}`)).events;
    expect(byRid.map((e) => e.action)).toEqual(["encrypt"]);
    const since = (await list(`from=${encodeURIComponent(before)}`)).events;
    expect(since.map((e) => e.requestId)).toEqual([rid]);
    expect((await list(`to=${encodeURIComponent(before)}&requestId=${rid}`)).events).toEqual([]);
  });

  test("cursor pagination: newest first, no gaps or repeats, null cursor at the end; a bad cursor is 400", async () => {
    const everything = (await list("limit=1000")).events;
    expect(everything.length).toBeGreaterThanOrEqual(20);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { events: Ev[]; nextCursor: string | null } = await list(`limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.events.length).toBeLessThanOrEqual(4);
      seen.push(...page.events.map((e) => e.seq));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    expect(seen).toEqual(everything.map((e) => e.seq));
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(pages).toBe(Math.ceil(everything.length / 4));
    // Filters and the cursor combine.
    const p1 = await list("action=decrypt&limit=2");
    const p2 = await list(`action=decrypt&limit=2&cursor=${p1.nextCursor}`);
    expect(p2.events.every((e) => e.action === "decrypt" && e.seq < p1.events[1]!.seq)).toBe(true);

    const bad = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?cursor=bm9wZQ`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=5000`)).status).toBe(400);
  });
});

describe("access", () => {
  test("a service token cannot read, export, verify, stream or subscribe (403); no credentials is 401; the admin can", async () => {
    for (const [method, p] of [
      ["GET", "/audit"],
      ["GET", "/audit/export?format=jsonl"],
      ["GET", "/audit/verify"],
      ["GET", "/audit/stream"],
      ["GET", "/webhooks"],
      ["POST", "/webhooks"],
    ] as const) {
      const body = method === "POST" ? { url: "http://127.0.0.1:9/x" } : undefined;
      const svc = await h.api.call(method, `/api/v1/tenants/${slug}${p}`, { token, body });
      expect(svc.status, `${method} ${p} with a service token`).toBe(403);
      const anon = await h.api.call(method, `/api/v1/tenants/${slug}${p}`, { body });
      expect(anon.status, `${method} ${p} without credentials`).toBe(401);
    }
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=1`)).status).toBe(200);
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/verify`)).status).toBe(200);
  });
});

describe("public key, export and offline verification", () => {
  test("the public key is published without credentials", async () => {
    const r = await h.api.call("GET", "/api/v1/audit/public-key");
    expect(r.status).toBe(200);
    expect(r.body.current.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(r.body.current.keyId).toEqual(expect.any(String));
    expect(r.body.all.map((k: Ev) => k.keyId)).toContain(r.body.current.keyId);
  });

  test("a JSONL export over HTTP verifies offline with the CLI (pinned key); an edited line fails naming its seq", async () => {
    const res = await fetch(`${h.runtime.url}/api/v1/tenants/${slug}/audit/export?format=jsonl`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="audit-routes-.*\.jsonl"/);
    const text = await res.text();
    const file = path.join(tmp, "export.jsonl");
    writeFileSync(file, text);
    const pem = path.join(tmp, "broker.pem");
    writeFileSync(pem, (await h.api.call("GET", "/api/v1/audit/public-key")).body.current.publicKeyPem);

    const ok = await run("node_modules/.bin/tsx", ["scripts/audit-verify.ts", file, "--public-key", pem], { cwd: process.cwd() });
    expect(ok.stdout).toMatch(/^ok: \d+ entries verified/);
    expect(ok.stdout).toMatch(/signed through seq \d+/);
    const count = Number(/^ok: (\d+)/.exec(ok.stdout)![1]);
    expect(count).toBeGreaterThanOrEqual(20);

    // An attacker edits one event in the file: the CLI exits 1 and names that entry.
    const lines = readFileSync(file, "utf8").split("\n");
    const i = lines.findIndex((l) => l.includes('"action":"decrypt"') && l.includes('"purpose":"read"'));
    expect(i).toBeGreaterThan(0);
    const seq = JSON.parse(lines[i]!).seq ?? JSON.parse(lines[i]!).event?.seq;
    lines[i] = lines[i]!.replace('"purpose":"read"', '"purpose":"audit"');
    const bad = path.join(tmp, "edited.jsonl");
    writeFileSync(bad, lines.join("\n"));
    const failed = await run("node_modules/.bin/tsx", ["scripts/audit-verify.ts", bad], { cwd: process.cwd() }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`first bad entry seq ${seq}`);
  });

  test("a CSV export has a header row and one row per entry", async () => {
    const r = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/export?format=csv&action=encrypt`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/text\/csv/);
    const rows = String(r.body).trim().split(/\r?\n/);
    expect(rows[0]).toBe(CSV_COLUMNS.join(","));
    expect(CSV_COLUMNS).toEqual(expect.arrayContaining(["seq", "time", "actorType", "action", "outcome", "dekId", "cacheHit", "requestId", "prevHash", "hash"]));
    expect(rows.length - 1).toBe((await list("action=encrypt&limit=1000")).events.length);
  });
});

describe("verify", () => {
  test("verify is ok; after a superuser edits a row (triggers disabled) it is not, naming the first bad entry", async () => {
    const v = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/verify`);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ ok: true });
    expect(v.body.count).toBeGreaterThanOrEqual(20);

    // Tamper on a tenant of its own so the other tests keep a clean chain.
    const victim = "tampered";
    // A key of its own: a key connected to one tenant is refused to every other (key_in_use).
    const vtoken = await h.api.readyTenant(victim, "aws", (await h.aws.createKeyForVendor()).keyArn);
    for (let i = 0; i < 5; i++) expect((await h.api.encrypt(victim, vtoken, `v${i}`, undefined, "payroll")).status).toBe(200);
    const before = await h.api.admin("GET", `/api/v1/tenants/${victim}/audit/verify`);
    expect(before.body.ok).toBe(true);
    const target = (await h.api.admin("GET", `/api/v1/tenants/${victim}/audit?action=encrypt&limit=1`)).body.events[0] as Ev;

    const su = new pg.Client({ connectionString: h.database.url });
    await su.connect();
    try {
      // The app's own role is refused by the append-only trigger...
      await expect(su.query(`UPDATE audit_event SET purpose = 'nothing' WHERE id = $1`, [target.id])).rejects.toThrow(/append-only/);
      // ...a superuser can switch it off, and verify must notice.
      await su.query("BEGIN");
      await su.query("ALTER TABLE audit_event DISABLE TRIGGER USER");
      await su.query(`UPDATE audit_event SET purpose = 'nothing' WHERE id = $1`, [target.id]);
      await su.query("ALTER TABLE audit_event ENABLE TRIGGER USER");
      await su.query("COMMIT");
    } finally {
      await su.end();
    }
    const after = await h.api.admin("GET", `/api/v1/tenants/${victim}/audit/verify`);
    expect(after.status).toBe(200);
    expect(after.body.ok).toBe(false);
    expect(after.body.firstBadEntry).toMatchObject({ seq: target.seq, id: target.id });
    expect(after.body.count).toBe(target.seq - 1);
    // The other tenant's chain is unaffected.
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/audit/verify`)).body.ok).toBe(true);
  });
});

describe("webhooks", () => {
  test("create (secret once) -> signed delivery within 1 s of a decrypt -> delivery log -> delete", async () => {
    const received: Array<{ at: number; body: string; headers: http.IncomingHttpHeaders }> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ at: Date.now(), body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const created = await h.api.admin("POST", `/api/v1/tenants/${slug}/webhooks`, { url });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const secret: string = created.body.secret;
      const hookId: string = created.body.webhook.id;
      expect(secret.length).toBeGreaterThanOrEqual(32);
      const listed = await h.api.admin("GET", `/api/v1/tenants/${slug}/webhooks`);
      expect(listed.body.webhooks.map((w: Ev) => w.id)).toEqual([hookId]);
      expect(JSON.stringify(listed.body)).not.toContain(secret);

      // A new subscription starts from the whole log; wait for the backlog, then time one decrypt.
      const deadline = Date.now() + 5000;
      while (!received.some((r) => r.body.includes("webhook.create")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const enc = await h.api.encrypt(slug, token, "hooked");
      const rid = `hook-${randomUUID()}`;
      const acked = Date.now();
      const dec = await h.api.call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext: enc.body.ciphertext }, headers: withRid(rid) });
      expect(dec.status).toBe(200);
      let hit: (typeof received)[number] | undefined;
      while (!(hit = received.find((r) => r.body.includes(rid))) && Date.now() < acked + 3000) await new Promise((r) => setTimeout(r, 5));
      expect(hit, "decrypt event delivered").toBeDefined();
      const latency = hit!.at - acked;
      console.log(`webhook: decrypt event received ${latency} ms after the decrypt was acknowledged`);
      expect(latency).toBeLessThanOrEqual(1000);

      const ts = String(hit!.headers["x-cmek-timestamp"]);
      const sig = String(hit!.headers["x-cmek-signature"]);
      const seen = new Set<string>();
      const checked = verifyWebhookSignature(secret, ts, hit!.body, sig, { seenIds: seen, deliveryId: String(hit!.headers["x-cmek-delivery-id"]) });
      expect(checked.ok).toBe(true);
      expect(verifyWebhookSignature(secret, ts, hit!.body, sig, { seenIds: seen })).toEqual({ ok: false, reason: "replayed" });
      expect(verifyWebhookSignature(secret, ts, hit!.body.replace(rid, "other"), sig)).toEqual({ ok: false, reason: "bad_signature" });
      expect(verifyWebhookSignature("wrong-secret", ts, hit!.body, sig).ok).toBe(false);
      const ev = (JSON.parse(hit!.body).events as Ev[]).find((e) => e.requestId === rid);
      expect(ev).toMatchObject({ action: "decrypt", outcome: "success", actorId: tokenId, cacheHit: true });

      // The delivery is logged once the receiver has answered, so it may trail the receipt slightly.
      const logged = async () => {
        const d = await h.api.admin("GET", `/api/v1/tenants/${slug}/webhooks/${hookId}/deliveries`);
        expect(d.status).toBe(200);
        return (d.body.deliveries as Ev[]).find((x) => x.firstSeq <= ev!.seq && x.lastSeq >= ev!.seq);
      };
      let delivery: Ev | undefined;
      for (let i = 0; i < 100 && !(delivery = await logged()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(delivery).toMatchObject({ status: 204, error: null, attempt: 1 });

      const del = await h.api.call("DELETE", `/api/v1/tenants/${slug}/webhooks/${hookId}`, { token: ADMIN_TOKEN });
      expect(del.status).toBe(204);
      expect((await h.api.admin("GET", `/api/v1/tenants/${slug}/webhooks`)).body.webhooks).toEqual([]);
      const count = received.length;
      const rid2 = `after-delete-${randomUUID()}`;
      await h.api.call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext: enc.body.ciphertext }, headers: withRid(rid2) });
      // An absence check: a delivery to a live subscription arrives well within this (its latency
      // is printed above); none may arrive for the deleted one.
      await new Promise((r) => setTimeout(r, 500));
      expect(received.slice(count).some((r) => r.body.includes(rid2))).toBe(false);
      const audit = (await list("action=webhook.create,webhook.delete")).events.map((e) => e.action);
      expect(audit).toEqual(["webhook.delete", "webhook.create"]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("live feed (SSE)", () => {
  test("the stream delivers an encrypt's entry", async () => {
    const ac = new AbortController();
    const res = await fetch(`${h.runtime.url}/api/v1/tenants/${slug}/audit/stream`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    // The ": connected" comment means the subscription is in place.
    while (!buf.includes(": connected")) buf += decoder.decode((await reader.read()).value, { stream: true });
    const rid = `sse-${randomUUID()}`;
    const enc = await h.api.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: b64("live"), purpose: "sse" }, headers: withRid(rid) });
    expect(enc.status).toBe(200);
    const timeout = setTimeout(() => ac.abort(), 5000);
    let event: Ev | undefined;
    try {
      while (!event) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        for (const msg of buf.split("\n\n")) {
          const data = /^data: (.*)$/m.exec(msg)?.[1];
          const id = /^id: (\d+)$/m.exec(msg)?.[1];
          if (data && msg.includes("event: audit")) {
            const ev = JSON.parse(data) as Ev;
            if (ev.requestId === rid) {
              event = ev;
              expect(Number(id)).toBe(ev.seq);
            }
          }
        }
      }
    } finally {
      clearTimeout(timeout);
      ac.abort();
    }
    expect(event).toMatchObject({ action: "encrypt", outcome: "success", purpose: "sse", actorId: tokenId });
  });
});
