import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import type { Database, SqlExecutor } from "../../lib/db/database";
import { openDatabase } from "../../lib/db/database";
import { AuditWriter, NoopAuditSink } from "../../lib/audit/writer";
import { AuditUnavailableError } from "../../lib/audit/types";
import { AuditEntryInvalidError } from "../../lib/audit/chain";
import { verifyTenantChain } from "../../lib/audit/verify";
import { AuditQueryError, listAuditEvents } from "../../lib/audit/query";
import { GENESIS_HASH, type AuditEventRecord } from "../../lib/audit/canonical";
import { createTestDb, PG_BASE, sampleEntry, type TestDb } from "./helpers";

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t?.drop();
});

async function seqs(db: Database, tenantId: string): Promise<number[]> {
  return (await db.query<{ seq: string }>(`SELECT seq FROM audit_event WHERE tenant_id = $1 ORDER BY seq`, [tenantId])).map((r) => Number(r.seq));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("AuditWriter (PostgreSQL)", () => {
  it("3 tenants x concurrent records: gap-free per-tenant chains, batched commits, verify ok", async () => {
    const writer = new AuditWriter(t.db);
    const durable: AuditEventRecord[] = [];
    writer.onDurable((evs) => durable.push(...evs));
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const perTenant = 2000;
    const started = performance.now();
    const all: Promise<void>[] = [];
    // Arrivals spread over many event-loop turns, the way request handlers call record().
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < perTenant / 20; i++) for (const tenant of tenants) all.push(writer.record(sampleEntry(tenant, wave * 1000 + i)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    const ms = performance.now() - started;
    const st = writer.stats();
    console.log(`[audit] ${all.length} entries in ${st.batches} commits (largest batch ${st.largestBatch}) in ${ms.toFixed(0)} ms`);
    expect(st.entries).toBe(perTenant * 3);
    expect(st.batches).toBeLessThan(all.length / 10);
    expect(durable).toHaveLength(perTenant * 3);
    expect(durable.every((e) => e.id !== "" && e.hash.length === 64)).toBe(true);
    for (const tenant of tenants) {
      expect(await seqs(t.db, tenant)).toEqual(range(perTenant));
      const v = await verifyTenantChain(t.db, tenant);
      expect(v).toMatchObject({ ok: true, count: perTenant, firstSeq: 1, lastSeq: perTenant });
    }
    const first = (await t.db.query<{ prev_hash: string }>(`SELECT prev_hash FROM audit_event WHERE tenant_id = $1 AND seq = 1`, [tenants[0]]))[0];
    expect(first?.prev_hash).toBe(GENESIS_HASH);
    await writer.close();
    await expect(writer.record(sampleEntry(tenants[0]!, 1))).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it("two writers (two instances) appending to one tenant concurrently produce one valid chain", async () => {
    const other = await t.openAnother();
    const a = new AuditWriter(t.db, { maxBatch: 200 });
    const b = new AuditWriter(other, { maxBatch: 200 });
    const tenant = randomUUID();
    const neighbour = randomUUID();
    const ps: Promise<void>[] = [];
    for (let wave = 0; wave < 15; wave++) {
      for (let i = 0; i < 100; i++) {
        ps.push(a.record(sampleEntry(tenant, wave * 100 + i)));
        ps.push(b.record(sampleEntry(tenant, 10_000 + wave * 100 + i)));
        if (i % 10 === 0) ps.push(b.record(sampleEntry(neighbour, i)));
      }
      // Pacing the waves is the point: records spread over several commits, not one.
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(ps);
    expect(a.stats().batches).toBeGreaterThan(1);
    expect(b.stats().batches).toBeGreaterThan(1);
    expect(await seqs(t.db, tenant)).toEqual(range(3000));
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 3000 });
    expect(await verifyTenantChain(t.db, neighbour)).toMatchObject({ ok: true, count: 150 });
    await Promise.all([a.close(), b.close()]);
  });

  it("a head extended by another instance is relinked from a fresh read, not through the locked transaction", async () => {
    const other = await t.openAnother();
    let transactions = 0;
    // The same database, counting the writer's locked transactions (the fallback path).
    const counted: Database = Object.create(t.db, {
      transaction: { value: (...args: Parameters<Database["transaction"]>) => (transactions++, t.db.transaction(...args)) },
    }) as Database;
    const a = new AuditWriter(counted);
    const b = new AuditWriter(other);
    const tenant = randomUUID();
    await a.record(sampleEntry(tenant, 0)); // first batch: heads unknown, read under the locks
    expect(transactions).toBe(1);
    await b.record(sampleEntry(tenant, 1)); // another instance extends the chain
    await b.record(sampleEntry(tenant, 2));
    await a.record(sampleEntry(tenant, 3)); // a's remembered head is two links behind
    expect(a.stats().chainConflicts).toBe(1);
    expect(transactions).toBe(1);
    await a.record(sampleEntry(tenant, 4));
    expect(a.stats().chainConflicts).toBe(1);
    expect(await seqs(t.db, tenant)).toEqual(range(5));
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 5 });
    await Promise.all([a.close(), b.close()]);
  });

  it("normalises awkward input so what is stored re-verifies", async () => {
    const writer = new AuditWriter(t.db);
    const tenant = randomUUID();
    await writer.record({
      tenantId: tenant.toUpperCase(),
      actor: { type: "system" },
      action: "tenant.lock",
      outcome: "success",
      reason: "nul\u0000 and lone \ud800 surrogate",
      latencyMs: Number.NaN,
      bytes: 12.7,
      purpose: "=cmd|' /C calc'!A0",
      detail: { when: new Date(0), nested: { b: 2, a: 1e21, c: 0.1 + 0.2, u: undefined }, list: [undefined, "x\u0000"] },
    });
    await expect(writer.record({ tenantId: "not-a-uuid", actor: { type: "system" }, action: "tenant.lock", outcome: "success" })).rejects.toBeInstanceOf(AuditEntryInvalidError);
    await writer.close();
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 1 });
    expect(await verifyTenantChain(t.db, tenant.toUpperCase())).toMatchObject({ ok: true, count: 1 });
  });

  it("stores text that is special in an array literal exactly (quotes, backslashes, commas, braces, NULL)", async () => {
    const writer = new AuditWriter(t.db);
    const tenant = randomUUID();
    const awkward = ['a"b', "back\\slash\\", "x,y", "{braces}", "NULL", "null", "", " spaced ", "line\nbreak", "ünï😀", '\\"', "'quote'"];
    // One batch: every entry is linked in the same INSERT, element i of each column array.
    await writer.recordAll(
      awkward.map((v, i) => ({
        tenantId: tenant,
        actor: { type: "service_token", id: v, name: awkward[(i + 1) % awkward.length] },
        action: "decrypt",
        outcome: "success",
        keyRef: v,
        purpose: i % 2 ? v : undefined,
        requestId: v,
        reason: v,
        cacheHit: i % 3 === 0 ? undefined : i % 3 === 1,
        latencyMs: i / 7,
        bytes: i,
        detail: { v, i },
      })),
    );
    await writer.close();
    const rows = await t.db.query<{ seq: string; actor_id: string; actor_name: string; key_ref: string; purpose: string | null; request_id: string; reason: string; cache_hit: boolean | null; latency_ms: number; bytes: number; detail: { v: string; i: number } }>(
      `SELECT seq, actor_id, actor_name, key_ref, purpose, request_id, reason, cache_hit, latency_ms, bytes, detail FROM audit_event WHERE tenant_id = $1 ORDER BY seq`,
      [tenant],
    );
    expect(rows.map((r) => r.actor_id)).toEqual(awkward);
    expect(rows.map((r) => r.actor_name)).toEqual(awkward.map((_, i) => awkward[(i + 1) % awkward.length]));
    expect(rows.map((r) => [r.key_ref, r.request_id, r.reason])).toEqual(awkward.map((v) => [v, v, v]));
    expect(rows.map((r) => r.purpose)).toEqual(awkward.map((v, i) => (i % 2 ? v : null)));
    expect(rows.map((r) => r.cache_hit)).toEqual(awkward.map((_, i) => (i % 3 === 0 ? null : i % 3 === 1)));
    expect(rows.map((r) => [Number(r.latency_ms), r.bytes])).toEqual(awkward.map((_, i) => [i / 7, i]));
    expect(rows.map((r) => r.detail)).toEqual(awkward.map((v, i) => ({ v, i })));
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: awkward.length });
  });

  it("fails closed with AuditUnavailableError when the database is unreachable", async () => {
    const gone = await openDatabase({ databaseUrl: `${PG_BASE}/audit_test_does_not_exist_${Date.now()}`, poolSize: 1 });
    const writer = new AuditWriter(gone);
    const tenant = randomUUID();
    const results = await Promise.allSettled([writer.record(sampleEntry(tenant, 1)), writer.record(sampleEntry(tenant, 2))]);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AuditUnavailableError);
    }
    await writer.close();
    await gone.close();
  });

  it("rejects a failed batch and keeps working afterwards without a gap in the chain", async () => {
    let down = false;
    // Both ways the writer appends fail while `down`: the one-statement insert on its own
    // connection, and the locked transaction (a failure at COMMIT, after the INSERT ran).
    const flaky: Database = {
      ...t.db,
      transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
        return t.db.transaction(async (tx) => {
          const r = await fn(tx);
          if (down) throw new Error("connection terminated unexpectedly");
          return r;
        });
      },
      async reserveSession(opts) {
        const session = await t.db.reserveSession(opts);
        return {
          ...session,
          query: async (sql, params) => {
            if (down) throw new Error("connection terminated unexpectedly");
            return session.query(sql, params);
          },
        };
      },
    };
    const writer = new AuditWriter(flaky);
    const tenant = randomUUID();
    await writer.record(sampleEntry(tenant, 1));
    down = true;
    const failed = await Promise.allSettled([writer.record(sampleEntry(tenant, 2)), writer.record(sampleEntry(tenant, 3))]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((failed[0] as PromiseRejectedResult).reason).toBeInstanceOf(AuditUnavailableError);
    down = false;
    await Promise.all([writer.record(sampleEntry(tenant, 4)), writer.record(sampleEntry(tenant, 5))]);
    await writer.close();
    expect(writer.stats()).toMatchObject({ failedBatches: 1, failedEntries: 2 });
    expect(await seqs(t.db, tenant)).toEqual([1, 2, 3]);
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 3 });
  });

  it("recordAll commits its entries in one batch, even past maxBatch and behind other entries", async () => {
    const writer = new AuditWriter(t.db, { maxBatch: 4 });
    const tenant = randomUUID();
    const singles = range(3).map((i) => writer.record(sampleEntry(tenant, i)));
    const group = writer.recordAll(range(10).map((i) => sampleEntry(tenant, 100 + i)));
    await Promise.all([...singles, group]);
    expect(writer.stats()).toMatchObject({ batches: 1, entries: 13, largestBatch: 13 });
    await expect(writer.recordAll([])).resolves.toBeUndefined();
    await writer.close();
    await expect(writer.recordAll([sampleEntry(tenant, 1)])).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await seqs(t.db, tenant)).toEqual(range(13));
  });

  it("NoopAuditSink accepts everything", async () => {
    await expect(new NoopAuditSink().record(sampleEntry(randomUUID(), 1))).resolves.toBeUndefined();
  });
});

describe("listAuditEvents", () => {
  it("filters, pages newest first with an opaque cursor, and is tenant-scoped", async () => {
    const writer = new AuditWriter(t.db);
    const tenant = randomUUID();
    const other = randomUUID();
    await Promise.all(range(250).map((i) => writer.record({ ...sampleEntry(tenant, i), time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) })));
    await Promise.all(range(20).map((i) => writer.record(sampleEntry(other, i))));
    await writer.close();

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof listAuditEvents>> = await listAuditEvents(t.db, tenant, {}, { limit: 100, cursor });
      seen.push(...page.events.map((e) => e.seq));
      expect(page.events.every((e) => e.tenantId === tenant)).toBe(true);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(range(250).reverse());

    expect((await listAuditEvents(t.db, tenant, { requestId: "req-42" })).events.map((e) => e.purpose)).toEqual(["p-42"]);
    const denied = await listAuditEvents(t.db, tenant, { outcome: "denied", action: "decrypt" }, { limit: 1000 });
    expect(denied.events.length).toBeGreaterThan(0);
    expect(denied.events.every((e) => e.outcome === "denied" && e.action === "decrypt")).toBe(true);
    const window = await listAuditEvents(t.db, tenant, { from: new Date(Date.UTC(2026, 0, 1, 0, 0, 10)), to: new Date(Date.UTC(2026, 0, 1, 0, 0, 20)) });
    expect(window.events.map((e) => e.seq)).toEqual(range(10).map((i) => 20 - i));
    expect((await listAuditEvents(t.db, tenant, { actor: "tok-3" }, { limit: 1000 })).events.every((e) => e.actorId === "tok-3")).toBe(true);
    expect((await listAuditEvents(t.db, tenant, { actor: "service_token" }, { limit: 5 })).events).toHaveLength(5);
    expect((await listAuditEvents(t.db, tenant, { purpose: "p-7", keyRef: "arn:aws:kms:us-east-1:000000000000:key/demo" })).events).toHaveLength(1);

    await expect(listAuditEvents(t.db, "", {})).rejects.toBeInstanceOf(AuditQueryError);
    await expect(listAuditEvents(t.db, tenant, {}, { cursor: "garbage!" })).rejects.toBeInstanceOf(AuditQueryError);
    expect((await listAuditEvents(t.db, other, {}, { limit: 1000 })).events).toHaveLength(20);
  });
});
