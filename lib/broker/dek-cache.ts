// Unwrapped DEKs in memory, per tenant. Bounded by TTL, by uses and by entry count (LRU);
// every way out of the cache (expiry, eviction, tenant drop, replacement) destroys the bytes.
// Concurrent misses on one DEK share one load (single flight). A DEK used within the refresh
// margin of its expiry is reloaded in the background (refresh-ahead), so steady traffic never
// waits on the KMS and every refresh doubles as a revocation check. The refreshed entry's TTL
// runs on from the old expiry, so a hot DEK costs exactly one unwrap per TTL.
import type { DataKeyMaterial } from "../crypto/data-key-material";

export interface DekCacheOptions {
  ttlMs: number;
  maxUses: number;
  maxEntries: number;
  /** Refresh when a DEK is used this close to its expiry (default: a fifth of the TTL, at most 5 s). */
  refreshMarginMs?: number;
  /** Background refreshes in flight per tenant (protects a throttled KMS from a refresh storm). */
  maxRefreshesPerTenant?: number;
  /** A failed refresh-ahead (the entry keeps serving until its TTL); reported, never thrown. */
  onRefreshError?: (err: unknown) => void;
  now?: () => number;
}

interface Entry {
  tenantId: string;
  /** The DEK's data class (data_class.id; null: `default`), so one class's lock drops only its DEKs. */
  classId: string | null;
  dekId: string;
  material: DataKeyMaterial;
  expiresAt: number;
  uses: number;
  refreshing: boolean;
}

export type DekLoader = () => Promise<DataKeyMaterial>;

/** The tenant's cache was dropped (lock) while its DEK was loading; the caller must re-check the tenant. */
export class TenantDroppedError extends Error {
  override readonly name = "TenantDroppedError";
}

export class DekCache {
  private entries = new Map<string, Entry>();
  /** Loads in flight by tenant, then DEK id: a request of one tenant never joins another tenant's load. */
  private inflight = new Map<string, Map<string, Promise<DataKeyMaterial>>>();
  private generation = new Map<string, number>();
  /** Per (tenant, class): bumped by dropClass, so a load of that class in flight is voided too. */
  private classGeneration = new Map<string, number>();
  private refreshesByTenant = new Map<string, number>();
  private readonly now: () => number;
  private readonly refreshMarginMs: number;
  private readonly maxRefreshes: number;
  stats = { hits: 0, misses: 0, loads: 0, refreshes: 0, evictions: 0, expirations: 0 };

  constructor(private readonly opts: DekCacheOptions) {
    this.now = opts.now ?? Date.now;
    this.refreshMarginMs = Math.min(opts.refreshMarginMs ?? 5000, opts.ttlMs / 5);
    this.maxRefreshes = opts.maxRefreshesPerTenant ?? 2;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Returns the DEK and whether it was a cache hit; `loader` runs at most once for concurrent misses. */
  async get(tenantId: string, dekId: string, loader: DekLoader, classId: string | null = null): Promise<{ material: DataKeyMaterial; hit: boolean }> {
    const e = this.entries.get(dekId);
    const t = this.now();
    if (e && e.tenantId === tenantId) {
      if (t < e.expiresAt && e.uses < this.opts.maxUses) {
        e.uses++;
        this.touch(e);
        this.stats.hits++;
        if (t >= e.expiresAt - this.refreshMarginMs) this.refreshAhead(e, loader);
        return { material: e.material, hit: true };
      }
      // A refresh in flight is joined by load() below (it is registered as this DEK's load), so
      // an entry that expires while its refresh-ahead runs costs no second unwrap.
      this.remove(e, "expirations");
    }
    this.stats.misses++;
    return { material: await this.load(tenantId, dekId, loader, classId), hit: false };
  }

  /** Inserts a DEK the broker just generated (and wrapped), so its first uses need no unwrap. */
  put(tenantId: string, dekId: string, material: DataKeyMaterial, classId: string | null = null): void {
    const old = this.entries.get(dekId);
    if (old) this.remove(old, "evictions");
    this.insert(tenantId, dekId, material, classId);
  }

  private classGen(tenantId: string, classId: string | null): number {
    return this.classGeneration.get(`${tenantId}:${classId ?? ""}`) ?? 0;
  }

  private load(tenantId: string, dekId: string, loader: DekLoader, classId: string | null): Promise<DataKeyMaterial> {
    let loads = this.inflight.get(tenantId);
    const pending = loads?.get(dekId);
    if (pending) return pending;
    if (!loads) {
      loads = new Map();
      this.inflight.set(tenantId, loads);
    }
    const tenantLoads = loads;
    const gen = this.generation.get(tenantId) ?? 0;
    const cgen = this.classGen(tenantId, classId);
    const p = (async () => {
      this.stats.loads++;
      const material = await loader();
      if ((this.generation.get(tenantId) ?? 0) !== gen || this.classGen(tenantId, classId) !== cgen) {
        material.destroy();
        throw new TenantDroppedError("tenant's keys were dropped while loading");
      }
      this.insert(tenantId, dekId, material, classId);
      return material;
    })().finally(() => {
      tenantLoads.delete(dekId);
      if (tenantLoads.size === 0 && this.inflight.get(tenantId) === tenantLoads) this.inflight.delete(tenantId);
    });
    tenantLoads.set(dekId, p);
    return p;
  }

  private refreshAhead(e: Entry, loader: DekLoader): void {
    const running = this.refreshesByTenant.get(e.tenantId) ?? 0;
    if (e.refreshing || running >= this.maxRefreshes || this.inflight.get(e.tenantId)?.has(e.dekId)) return;
    e.refreshing = true;
    this.refreshesByTenant.set(e.tenantId, running + 1);
    const gen = this.generation.get(e.tenantId) ?? 0;
    const cgen = this.classGen(e.tenantId, e.classId);
    this.stats.refreshes++;
    const p = loader().then((material) => {
      if ((this.generation.get(e.tenantId) ?? 0) !== gen || this.classGen(e.tenantId, e.classId) !== cgen) {
        material.destroy();
        throw new TenantDroppedError("tenant's keys were dropped while refreshing");
      }
      const current = this.entries.get(e.dekId);
      // At most margin + TTL after this (successful) revocation check.
      const expiresAt = Math.min(e.expiresAt, this.now() + this.refreshMarginMs) + this.opts.ttlMs;
      if (current === e) {
        e.material.destroy();
        e.material = material;
        e.expiresAt = expiresAt;
        e.uses = 0;
        return material;
      }
      if (!current) {
        // The entry expired (or was swept or evicted) while this refresh ran, and requests may be
        // waiting on it as their load: the fresh DEK becomes the entry, on the same schedule.
        this.insert(e.tenantId, e.dekId, material, e.classId);
        const fresh = this.entries.get(e.dekId);
        if (fresh) fresh.expiresAt = expiresAt;
        return material;
      }
      // Replaced meanwhile (put of the same id): keep the newer entry.
      material.destroy();
      return current.material;
    });
    const tenantLoads = this.inflight.get(e.tenantId) ?? new Map<string, Promise<DataKeyMaterial>>();
    this.inflight.set(e.tenantId, tenantLoads);
    tenantLoads.set(e.dekId, p);
    // A failed refresh leaves the entry to serve until its TTL (the KMS gateway also audits the call);
    // requests that joined it as their load get its error, like any failed load.
    p.catch((err: unknown) => {
      // A lock dropped the tenant's keys meanwhile: nothing failed, the bytes are already gone.
      if (!(err instanceof TenantDroppedError)) this.opts.onRefreshError?.(err);
    }).finally(() => {
      e.refreshing = false;
      this.refreshesByTenant.set(e.tenantId, (this.refreshesByTenant.get(e.tenantId) ?? 1) - 1);
      if (tenantLoads.get(e.dekId) === p) tenantLoads.delete(e.dekId);
      if (tenantLoads.size === 0 && this.inflight.get(e.tenantId) === tenantLoads) this.inflight.delete(e.tenantId);
    });
  }

  private insert(tenantId: string, dekId: string, material: DataKeyMaterial, classId: string | null): void {
    const t = this.now();
    // Never drop an entry without destroying its bytes (a DEK id taken by another tenant's entry).
    const displaced = this.entries.get(dekId);
    if (displaced && displaced.material !== material) this.remove(displaced, "evictions");
    this.entries.set(dekId, { tenantId, classId, dekId, material, expiresAt: t + this.opts.ttlMs, uses: 0, refreshing: false });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.values().next().value as Entry;
      this.remove(oldest, "evictions");
    }
  }

  private touch(e: Entry): void {
    // Map keeps insertion order; re-inserting makes it the most recently used.
    this.entries.delete(e.dekId);
    this.entries.set(e.dekId, e);
  }

  private remove(e: Entry, why: "evictions" | "expirations"): void {
    this.entries.delete(e.dekId);
    e.material.destroy();
    this.stats[why]++;
  }

  /** Destroys every cached DEK of the tenant and voids loads in flight. Returns how many were dropped. */
  dropTenant(tenantId: string): number {
    this.generation.set(tenantId, (this.generation.get(tenantId) ?? 0) + 1);
    let n = 0;
    for (const e of [...this.entries.values()]) {
      if (e.tenantId === tenantId) {
        this.entries.delete(e.dekId);
        e.material.destroy();
        n++;
      }
    }
    return n;
  }

  /** Destroys every cached DEK of one class of the tenant (null: `default`) and voids that class's loads in flight. */
  dropClass(tenantId: string, classId: string | null): number {
    const key = `${tenantId}:${classId ?? ""}`;
    this.classGeneration.set(key, (this.classGeneration.get(key) ?? 0) + 1);
    let n = 0;
    for (const e of [...this.entries.values()]) {
      if (e.tenantId === tenantId && e.classId === classId) {
        this.entries.delete(e.dekId);
        e.material.destroy();
        n++;
      }
    }
    return n;
  }

  /** Destroys expired entries; called on a timer so idle DEKs do not outlive their TTL in memory. */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const e of [...this.entries.values()]) {
      if (t >= e.expiresAt) {
        this.remove(e, "expirations");
        n++;
      }
    }
    return n;
  }

  tenantsWithCachedKeys(): Set<string> {
    return new Set([...this.entries.values()].map((e) => e.tenantId));
  }

  countForTenant(tenantId: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.tenantId === tenantId) n++;
    return n;
  }

  clear(): void {
    for (const e of [...this.entries.values()]) this.remove(e, "evictions");
  }
}
