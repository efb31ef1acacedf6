// Group-commit writer. Entries queue in memory; one flush at a time takes everything queued
// (up to maxBatch), appends it to each tenant's chain and resolves every entry's promise only
// after the rows are committed, so an acknowledged request always has a durable entry. While a
// flush is in flight new entries wait for the next one, so batches grow with load.
//
// The common case costs one round trip: the writer remembers the head of every chain it last
// appended to and sends the linked rows as ONE autocommitted INSERT on a connection of its own
// (the statement takes the tenants' advisory locks itself).
// Under load each round trip waits a full turn of the broker's busy event loop, so the count
// of round trips per batch, not the SQL, sets the throughput. If another instance appended to
// one of those chains meanwhile, the INSERT hits the (tenant_id, seq) unique index, changes
// nothing, and the batch is appended again the careful way: in a transaction that takes the
// tenants' advisory locks and reads their heads first (also the way for chains not yet known).
import type { Database, ReservedSession, SqlExecutor } from "../db/database";
import type { AuditEventRecord } from "./canonical";
import {
  AUDIT_LOCK_NAMESPACE,
  EMPTY_HEAD,
  isUuid,
  linkEntries,
  normalizeEntry,
  lockKeyOf,
  type ChainHead,
  type PendingFields,
} from "./chain";
import { AuditUnavailableError, type AuditEntryInput, type AuditSink } from "./types";

export interface AuditWriterOptions {
  /** Most entries one transaction takes (default 1000). */
  maxBatch?: number;
  /** Entries allowed to wait before record() fails fast with AuditUnavailableError (default 100,000). */
  maxQueue?: number;
  /** A commit slower than this fails its entries (the data path answers 503) instead of hanging requests (default 10 s). */
  commitTimeoutMs?: number;
  /** Told about failed batches (no entry contents, only the error). */
  onError?: (err: unknown, batchSize: number) => void;
  /**
   * "server" (default): a batch is acknowledged once PostgreSQL has committed it, without waiting
   * for its WAL flush (synchronous_commit = off for audit transactions only). A crash of the broker
   * loses nothing acknowledged; a crash of the PostgreSQL server or its machine can lose at most the
   * last 3 x wal_writer_delay (600 ms by default) of entries. "disk": wait for the flush as well,
   * at the cost of one fsync per batch (about 14 ms on the reference machine), which caps throughput.
   */
  durability?: "server" | "disk";
}

export interface AuditWriterStats {
  batches: number;
  entries: number;
  failedBatches: number;
  failedEntries: number;
  largestBatch: number;
  lastBatch: number;
  queued: number;
}

export type DurableListener = (events: AuditEventRecord[]) => void;

interface Queued {
  fields: PendingFields;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class AuditWriter implements AuditSink {
  private queue: Queued[] = [];
  private inFlight = false;
  private scheduled = false;
  /** Head of each chain as this writer last committed it: the next batch links onto it without reading it. */
  private readonly heads = new Map<string, ChainHead>();
  private session: ReservedSession | null = null;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly listeners = new Set<DurableListener>();
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly commitTimeoutMs: number;
  private readonly s: AuditWriterStats = { batches: 0, entries: 0, failedBatches: 0, failedEntries: 0, largestBatch: 0, lastBatch: 0, queued: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: AuditWriterOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 1000);
    this.maxQueue = Math.max(1, opts.maxQueue ?? 100_000);
    this.commitTimeoutMs = opts.commitTimeoutMs ?? 10_000;
  }

  record(entry: AuditEntryInput): Promise<void> {
    if (this.closed) return Promise.reject(new AuditUnavailableError("audit writer is closed"));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new AuditUnavailableError("audit queue is full"));
    let fields: PendingFields;
    try {
      fields = normalizeEntry(entry);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ fields, resolve, reject });
      this.schedule();
    });
  }

  /** Called with every batch of rows right after it committed. Listeners must not throw or block; returns an unsubscribe. */
  onDurable(listener: DurableListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once everything queued before the call is durable or failed. */
  flush(): Promise<void> {
    if (!this.inFlight && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking entries and drains the queue. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.session?.release();
    this.session = null;
  }

  stats(): AuditWriterStats {
    return { ...this.s, queued: this.queue.length };
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // setImmediate rather than a microtask: entries recorded by other I/O callbacks of this turn join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = true;
    void this.commitBatch(batch).finally(() => {
      this.inFlight = false;
      if (this.queue.length > 0) this.schedule();
      else if (!this.scheduled) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  private async commitBatch(batch: Queued[]): Promise<void> {
    let records: AuditEventRecord[];
    try {
      records = await withTimeout(this.append(batch.map((q) => q.fields)), this.commitTimeoutMs);
    } catch (e) {
      // The statement may still be running (a hung server): drop the connection with it.
      this.session?.release();
      this.session = null;
      this.heads.clear();
      this.s.failedBatches += 1;
      this.s.failedEntries += batch.length;
      this.opts.onError?.(e, batch.length);
      const err = new AuditUnavailableError(`audit store unavailable: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      for (const q of batch) q.reject(err);
      return;
    }
    this.s.batches += 1;
    this.s.entries += batch.length;
    this.s.lastBatch = batch.length;
    this.s.largestBatch = Math.max(this.s.largestBatch, batch.length);
    for (const q of batch) q.resolve();
    for (const l of this.listeners) {
      try {
        l(records);
      } catch {
        // A broken subscriber must not affect durability or other subscribers.
      }
    }
  }

  private async append(fields: PendingFields[]): Promise<AuditEventRecord[]> {
    const byTenant = groupByTenant(fields);
    const known = [...byTenant.keys()].every((t) => this.heads.has(t));
    if (known) {
      const links = linkAll(byTenant, this.heads);
      try {
        // A connection lost since the last batch (a PostgreSQL restart) is replaced before use, not after a failed batch.
        if (this.session?.lost) this.session = null;
        this.session ??= await this.db.reserveSession({ asyncCommit: this.opts.durability !== "disk" });
        const records = await insertLinks(this.session, links, { lock: true });
        this.remember(links);
        return records;
      } catch (e) {
        for (const t of byTenant.keys()) this.heads.delete(t);
        if (!isUniqueViolation(e)) throw e;
        // Another instance appended to one of these chains since: relink from the real heads.
      }
    }
    const { records, links } = await this.db.transaction((tx) => appendToChains(tx, fields), { asyncCommit: this.opts.durability !== "disk" });
    this.remember(links);
    return records;
  }

  private remember(links: Omit<AuditEventRecord, "id">[]): void {
    // Bounded: forgetting a head only means the next batch for that chain reads it again.
    if (this.heads.size > MAX_REMEMBERED_HEADS) this.heads.clear();
    for (const l of links) this.heads.set(l.tenantId, { seq: l.seq, hash: l.hash });
  }
}

const MAX_REMEMBERED_HEADS = 100_000;

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

function groupByTenant(entries: PendingFields[]): Map<string, PendingFields[]> {
  const byTenant = new Map<string, PendingFields[]>();
  for (const f of entries) {
    const list = byTenant.get(f.tenantId);
    if (list) list.push(f);
    else byTenant.set(f.tenantId, [f]);
  }
  return byTenant;
}

function linkAll(byTenant: Map<string, PendingFields[]>, heads: Map<string, ChainHead>): Omit<AuditEventRecord, "id">[] {
  const links: Omit<AuditEventRecord, "id">[] = [];
  for (const t of [...byTenant.keys()].sort()) links.push(...linkEntries(heads.get(t) ?? EMPTY_HEAD, byTenant.get(t)!).links);
  return links;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`commit took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Appends entries (any mix of tenants, in arrival order per tenant) inside the caller's
 * transaction. The per-tenant advisory locks, taken in a fixed order, make instances that
 * share one database append to a tenant's chain one after another and never deadlock.
 */
async function appendToChains(tx: SqlExecutor, entries: PendingFields[]): Promise<{ records: AuditEventRecord[]; links: Omit<AuditEventRecord, "id">[] }> {
  if (entries.length === 0) return { records: [], links: [] };
  const byTenant = groupByTenant(entries);
  const tenants = [...byTenant.keys()].sort();
  const lockKeys = [...new Set(tenants.map(lockKeyOf))].sort((a, b) => a - b);
  // Locks are taken left to right, then the heads are read in a later statement (so with a snapshot
  // taken after the locks were granted). Both go in one parameterless round trip, which also carries
  // the BEGIN: the lock keys are our own integers and the tenant ids were checked to be UUIDs.
  const heads = await readHeads(
    tx,
    tenants,
    `SELECT ${lockKeys.map((k, i) => `pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, ${k}) AS l${i}`).join(", ")}`,
  );
  const links = linkAll(byTenant, heads);
  return { records: await insertLinks(tx, links, { lock: false }), links };
}

/**
 * One INSERT ... SELECT FROM unnest(<one array per column>): 21 parameters whatever the batch
 * size, so there is no bind-parameter limit to chunk around, and PostgreSQL parses and plans one
 * small statement instead of a VALUES list of 21 x N placeholders. One statement is atomic on
 * its own: on a unique violation no row of the batch is written.
 */
async function insertLinks(db: SqlExecutor, links: Omit<AuditEventRecord, "id">[], opts: { lock: boolean }): Promise<AuditEventRecord[]> {
  const col = <T>(f: (l: Omit<AuditEventRecord, "id">) => T): T[] => links.map(f);
  // With `lock`, the statement takes the tenants' advisory locks (in key order, like the locked
  // transaction) before it can produce a row to insert: every row joins the one-row lock result.
  // So a writer that read the heads under the locks is never interleaved with, and only a stale
  // remembered head can conflict.
  const lockKeys = opts.lock ? [...new Set(links.map((l) => lockKeyOf(l.tenantId)))] : [];
  const rows = await db.query<{ id: unknown; tenant_id: string; seq: unknown }>(
    `${opts.lock ? `WITH locked AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, k)) FROM (SELECT k FROM unnest($22::int4[]) k ORDER BY k) keys) ` : ""}
     INSERT INTO audit_event (tenant_id, seq, time, actor_type, actor_id, actor_name, action, outcome, provider, key_ref,
       key_version, dek_id, cache_hit, latency_ms, bytes, purpose, request_id, reason, detail, prev_hash, hash)
     SELECT u.* FROM ${opts.lock ? "locked, " : ""}unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
       $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[], $14::float8[], $15::int4[], $16::text[], $17::text[],
       $18::text[], $19::jsonb[], $20::text[], $21::text[]) u
     RETURNING id, tenant_id, seq`,
    [
      col((l) => l.tenantId), col((l) => l.seq), col((l) => l.time), col((l) => l.actorType), col((l) => l.actorId),
      col((l) => l.actorName), col((l) => l.action), col((l) => l.outcome), col((l) => l.provider), col((l) => l.keyRef),
      col((l) => l.keyVersion), col((l) => l.dekId), col((l) => l.cacheHit), col((l) => l.latencyMs), col((l) => l.bytes),
      col((l) => l.purpose), col((l) => l.requestId), col((l) => l.reason),
      col((l) => (l.detail === null ? null : JSON.stringify(l.detail))), col((l) => l.prevHash), col((l) => l.hash),
      ...(opts.lock ? [lockKeys] : []),
    ],
  );
  const ids = new Map<string, string>();
  for (const r of rows) ids.set(`${r.tenant_id}:${Number(r.seq)}`, String(r.id));
  return links.map((l) => ({ id: ids.get(`${l.tenantId}:${l.seq}`) ?? "", ...l }));
}

/**
 * Last link of each tenant's chain, in one query. Falls back to the newest checkpoint when every entry was pruned.
 * `before`: parameterless SQL sent in the same round trip ahead of the read (the ids are inlined for that, so they must be UUIDs).
 */
export async function readHeads(tx: SqlExecutor, tenants: string[], before?: string): Promise<Map<string, ChainHead>> {
  const heads = new Map<string, ChainHead>();
  if (tenants.length === 0) return heads;
  for (const t of tenants) if (!isUuid(t)) throw new Error("readHeads: tenant ids must be UUIDs");
  const rows = await tx.query<{ tenant_id: string; seq: unknown; hash: string | null; cp_seq: unknown; cp_hash: string | null }>(
    `${before ? `${before}; ` : ""}SELECT t.id::text AS tenant_id, e.seq, e.hash, c.seq AS cp_seq, c.hash AS cp_hash
       FROM (VALUES ${tenants.map((id) => `('${id}'::uuid)`).join(",")}) AS t(id)
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_event WHERE tenant_id = t.id ORDER BY seq DESC LIMIT 1) e ON true
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_checkpoint WHERE tenant_id = t.id ORDER BY seq DESC LIMIT 1) c ON true`,
  );
  for (const r of rows) {
    if (r.seq !== null && r.seq !== undefined) heads.set(r.tenant_id, { seq: Number(r.seq), hash: String(r.hash) });
    else if (r.cp_seq !== null && r.cp_seq !== undefined) heads.set(r.tenant_id, { seq: Number(r.cp_seq), hash: String(r.cp_hash) });
  }
  return heads;
}

/** For BROKER_AUDIT=off: accepts and drops every entry. */
export class NoopAuditSink implements AuditSink {
  record(_entry: AuditEntryInput): Promise<void> {
    return Promise.resolve();
  }
  onDurable(_listener: DurableListener): () => void {
    return () => {};
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
