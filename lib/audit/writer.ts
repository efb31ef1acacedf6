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
import type { Database, ReservedSession } from "../db/database";
import type { AuditEventRecord } from "./canonical";
import { EMPTY_HEAD, normalizeEntry, type ChainHead, type PendingFields } from "./chain";
import { AuditUnavailableError, type AuditEntryInput, type AuditSink } from "./types";
import { appendToChains, groupByTenant, insertLinks, isUniqueViolation, linkAll, readHeads, withTimeout } from "./chain-append";

export { readHeads } from "./chain-append";

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
  /** Batches that found a chain extended by another instance since its head was remembered, and were relinked. */
  chainConflicts: number;
}

export type DurableListener = (events: AuditEventRecord[]) => void;

interface Queued {
  fields: PendingFields;
  resolve: () => void;
  reject: (e: Error) => void;
  /** Set on every entry of a recordAll() group but its first: the batch is never cut before it. */
  joined?: boolean;
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
  private readonly s: AuditWriterStats = { batches: 0, entries: 0, failedBatches: 0, failedEntries: 0, largestBatch: 0, lastBatch: 0, queued: 0, chainConflicts: 0 };

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

  recordAll(entries: readonly AuditEntryInput[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new AuditUnavailableError("audit writer is closed"));
    if (this.queue.length + entries.length > this.maxQueue) return Promise.reject(new AuditUnavailableError("audit queue is full"));
    let fields: PendingFields[];
    try {
      fields = entries.map((e) => normalizeEntry(e));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<void>((resolve, reject) => {
      // One batch holds the whole group, so its entries commit (or fail) together.
      let left = fields.length;
      const done = () => {
        if (--left === 0) resolve();
      };
      fields.forEach((f, i) => this.queue.push({ fields: f, resolve: done, reject, joined: i > 0 }));
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
    // A recordAll() group is never cut: the batch runs past maxBatch to its end.
    let n = Math.min(this.queue.length, this.maxBatch);
    while (n < this.queue.length && this.queue[n]!.joined) n++;
    const batch = this.queue.splice(0, n);
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
    const tenants = [...byTenant.keys()];
    if (tenants.every((t) => this.heads.has(t))) {
      // Optimistic: link onto the remembered heads and insert in one statement that takes the
      // tenants' advisory locks itself, so no lock is held across a round trip. A head extended
      // by another instance meanwhile makes the statement fail on (tenant_id, seq) and writes no
      // row; the heads are then read again (without locks) and the batch relinked. Instances
      // appending to one tenant's chain used to fall back to the locked transaction below on
      // every conflict, holding the tenant's lock for three round trips, each a turn of a busy
      // event loop: two instances serving one tenant were slower than one.
      for (let attempt = 0; ; attempt++) {
        const links = linkAll(byTenant, this.heads);
        try {
          // A connection lost since the last batch (a PostgreSQL restart) is replaced before use, not after a failed batch.
          if (this.session?.lost) this.session = null;
          this.session ??= await this.db.reserveSession({ asyncCommit: this.opts.durability !== "disk" });
          const records = await insertLinks(this.session, links, { lock: true });
          this.remember(links);
          return records;
        } catch (e) {
          for (const t of tenants) this.heads.delete(t);
          if (!isUniqueViolation(e)) throw e;
          this.s.chainConflicts += 1;
          if (attempt >= OPTIMISTIC_RELINKS) break;
          const fresh = await readHeads(this.session!, tenants);
          for (const t of tenants) this.heads.set(t, fresh.get(t) ?? EMPTY_HEAD);
        }
      }
    }
    // Heads not known (a first batch), or still conflicting: read them under the locks, in one transaction.
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
/** Optimistic relinks of a conflicting batch before it takes the locked transaction (which always succeeds). */
const OPTIMISTIC_RELINKS = 2;

export class NoopAuditSink implements AuditSink {
  record(_entry: AuditEntryInput): Promise<void> {
    return Promise.resolve();
  }
  recordAll(_entries: readonly AuditEntryInput[]): Promise<void> {
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
