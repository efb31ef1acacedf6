// Token buckets that pace a re-wrap job's KMS calls: one per tenant and one per provider on
// this instance (a job is worked by one instance at a time, so the tenant's bucket is its rate
// cluster-wide). A rate of 0 means no limit. Throttling answers halve the job's pace through
// the job's backoff (lib/broker/lifecycle/rewrap-worker.ts), not here.
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = Math.max(1, perSecond);
    this.last = this.now();
  }

  /** Milliseconds to wait before `n` calls may be made; reserves them. 0 when unlimited. */
  reserve(n: number): number {
    if (this.perSecond <= 0) return 0;
    const t = this.now();
    this.tokens = Math.min(Math.max(1, this.perSecond), this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }
}

export class RewrapRateLimiter {
  private readonly tenants = new Map<string, TokenBucket>();
  private readonly providers = new Map<string, TokenBucket>();

  constructor(
    private readonly tenantPerSecond: number,
    private readonly providerPerSecond: number,
  ) {}

  /** Waits until `calls` KMS calls for this tenant and provider fit under both limits. */
  async acquire(tenantId: string, provider: string, calls: number, signal?: AbortSignal): Promise<void> {
    const wait = Math.max(this.bucket(this.tenants, tenantId, this.tenantPerSecond).reserve(calls), this.bucket(this.providers, provider, this.providerPerSecond).reserve(calls));
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      signal?.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }

  forgetTenant(tenantId: string): void {
    this.tenants.delete(tenantId);
  }

  private bucket(map: Map<string, TokenBucket>, key: string, rate: number): TokenBucket {
    let b = map.get(key);
    if (!b) {
      b = new TokenBucket(rate);
      map.set(key, b);
    }
    return b;
  }
}
