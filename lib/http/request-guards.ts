// Small, allocation-light limits for the request path.

export interface TokenBucketOptions {
  burst: number;
  perSecond: number;
  /** Keys tracked at most; the least recently used bucket is forgotten first (a forgotten key starts full). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** One token bucket per key (a client address), in a bounded map. */
export class KeyedTokenBucket {
  private buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly opts: TokenBucketOptions) {
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token: returns 0 when granted, else the whole seconds until one is available. */
  take(key: string, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
      b.at = now;
      // Re-inserted so iteration order is least recently used first.
      this.buckets.delete(key);
    } else {
      b = { tokens: this.opts.burst, at: now };
      while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond));
  }
}
