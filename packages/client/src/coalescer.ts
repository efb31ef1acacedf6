// Merges concurrent single encrypts and decrypts into batch requests: calls made while a batch is
// being gathered (up to maxDelayMs, or until maxItems) go out as one request; each call gets its own
// item's result or typed error, in the order the calls were made. An error of the whole request (a
// lock, an outage, a refused token) fails every call in it, as it would have failed each alone.
import { abortReason } from "./errors.js";
import type { BatchResult, CallOptions, DecryptItem, EncryptItem } from "./types.js";

export interface CoalescerOptions {
  /** Most items per batch request (default 100). */
  maxItems?: number;
  /** How long the first call of a batch waits for company, in ms (default 0: the calls of the same turn of the event loop). */
  maxDelayMs?: number;
  /** Most batch requests in flight at once; further batches wait (default 8). */
  maxInFlight?: number;
}

export interface BatchSender {
  encryptBatch(items: readonly EncryptItem[], opts?: CallOptions): Promise<Array<BatchResult<string>>>;
  decryptBatch(items: readonly DecryptItem[], opts?: CallOptions): Promise<Array<BatchResult<Buffer>>>;
}

interface Pending<I, T> {
  item: I;
  resolve(v: T): void;
  reject(e: Error): void;
}

/** What the coalescer sent so far: batch requests and the single calls they carried. */
export interface CoalescerStats {
  batches: number;
  items: number;
}

class Lane<I, T> {
  readonly stats: CoalescerStats = { batches: 0, items: 0 };
  private queue: Array<Pending<I, T>> = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly send: (items: I[]) => Promise<Array<BatchResult<T>>>,
    private readonly o: Required<CoalescerOptions>,
  ) {}

  add(item: I, opts: CallOptions): Promise<T> {
    if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
    return new Promise<T>((resolve, reject) => {
      const p: Pending<I, T> = { item, resolve, reject };
      // A call's own signal or budget ends its wait; the batch it is in goes on for the others.
      const timeout = opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined;
      const signal = timeout && opts.signal ? AbortSignal.any([opts.signal, timeout]) : (timeout ?? opts.signal);
      if (signal) {
        const onAbort = () => {
          this.queue = this.queue.filter((q) => q !== p);
          reject(abortReason(signal));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        p.resolve = (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        };
        p.reject = (e: Error) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        };
      }
      this.queue.push(p);
      if (this.queue.length >= this.o.maxItems) this.flush();
      else if (!this.timer) this.timer = this.o.maxDelayMs > 0 ? setTimeout(() => this.flush(), this.o.maxDelayMs) : setImmediate(() => this.flush());
    });
  }

  async drain(): Promise<void> {
    this.flush();
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.o.maxItems);
      const run = this.run(batch);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  private async run(batch: Array<Pending<I, T>>): Promise<void> {
    if (this.inFlight >= this.o.maxInFlight) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    this.stats.batches++;
    this.stats.items += batch.length;
    try {
      const results = await this.send(batch.map((p) => p.item));
      results.forEach((r, i) => {
        const p = batch[i]!;
        if (r.ok) p.resolve(r.value);
        else {
          // The item's index is its place in the batch request, which means nothing to the caller.
          r.error.index = undefined;
          p.reject(r.error);
        }
      });
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

export class Coalescer {
  private readonly enc: Lane<EncryptItem, string>;
  private readonly dec: Lane<DecryptItem, Buffer>;

  constructor(sender: BatchSender, opts: CoalescerOptions) {
    const o = { maxItems: 100, maxDelayMs: 0, maxInFlight: 8, ...opts };
    if (!(o.maxItems >= 1 && o.maxItems <= 1000)) throw new RangeError("coalesce.maxItems must be between 1 and 1000");
    this.enc = new Lane((items) => sender.encryptBatch(items), o);
    this.dec = new Lane((items) => sender.decryptBatch(items), o);
  }

  encrypt(item: EncryptItem, opts: CallOptions): Promise<string> {
    return this.enc.add(item, opts);
  }

  decrypt(item: DecryptItem, opts: CallOptions): Promise<Buffer> {
    return this.dec.add(item, opts);
  }

  async drain(): Promise<void> {
    await Promise.all([this.enc.drain(), this.dec.drain()]);
  }

  stats(): { encrypt: CoalescerStats; decrypt: CoalescerStats } {
    return { encrypt: { ...this.enc.stats }, decrypt: { ...this.dec.stats } };
  }
}
