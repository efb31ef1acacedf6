// Unwrapped DEKs in memory, per tenant and data class. Bounded by TTL, by uses and by entry count
// (LRU); every way out of the cache (expiry, eviction, tenant or class drop, replacement) destroys
// the bytes. Each entry carries the class of its DEK (null: `default`), so a lock of one class
// drops that class's DEKs only (dropClass) and a hit tells the caller which class the DEK serves.
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
  dekId: string;
  /** The DEK's data class (data_key.data_class_id; null: `default`). */
  classId: string | null;
  material: DataKeyMaterial;
  expiresAt: number;
  uses: number;
  refreshing: boolean;
}

/** Unwraps the DEK; it must be of the class the lookup named (DataKeyService checks the stored row before unwrapping). */
export type DekLoader = () => Promise<DataKeyMaterial>;

/** A DEK as a lookup returns it: the bytes, whether it was cached, and the class it was cached or loaded for. */
export interface CachedDek {
  material: DataKeyMaterial;
  hit: boolean;
  classId: string | null;
}

interface Loaded {
  material: DataKeyMaterial;
  classId: string | null;
}

/** The tenant's (or the class's) cache was dropped (lock) while its DEK was loading; the caller must re-check the tenant and class. */
export class TenantDroppedError extends Error {
  override readonly name = "TenantDroppedError";
}

/**
 * The key of a class's generation: the class id, or the tenant id for `default`. Both are random
 * UUIDs from different tables, so they cannot collide; no string is built per lookup.
 */
function scopeKey(tenantId: string, classId: string | null): string {
  return classId ?? tenantId;
}

export class DekCache {
  private entries = new Map<string, Entry>();
  /** Loads in flight by tenant, then DEK id: a request of one tenant never joins another tenant's load. */
  private inflight = new Map<string, Map<string, Promise<Loaded>>>();
  /** Bumped by dropTenant (by tenant id) and by dropClass (by scopeKey): a load that started before a bump is void. */
  private generation = new Map<string, number>();
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

  /**
   * Returns the DEK, whether it was a cache hit, and its class; `loader` runs at most once for
   * concurrent misses. `classId` is the class the caller expects (null: `default`): a miss loads
   * (and caches) the DEK as that class's. The answer's classId is the DEK's class as cached or
   * loaded, which differs only when the caller expected another class: it must refuse then.
   */
  async get(tenantId: string, dekId: string, loader: DekLoader, classId: string | null = null): Promise<CachedDek> {
    const e = this.entries.get(dekId);
    const t = this.now();
    if (e && e.tenantId === tenantId) {
      if (e.classId !== classId) return { material: e.material, hit: true, classId: e.classId };
      if (t < e.expiresAt && e.uses < this.opts.maxUses) {
        e.uses++;
        this.touch(e);
        this.stats.hits++;
        if (t >= e.expiresAt - this.refreshMarginMs) this.refreshAhead(e, loader);
        return { material: e.material, hit: true, classId: e.classId };
      }
      // A refresh in flight is joined by load() below (it is registered as this DEK's load), so
      // an entry that expires while its refresh-ahead runs costs no second unwrap.
      this.remove(e, "expirations");
    }
    this.stats.misses++;
    const loaded = await this.load(tenantId, dekId, classId, loader);
    return { material: loaded.material, hit: false, classId: loaded.classId };
  }

  /** Inserts a DEK the broker just generated (and wrapped) for `classId`, so its first uses need no unwrap. */
  put(tenantId: string, dekId: string, material: DataKeyMaterial, classId: string | null = null): void {
    const old = this.entries.get(dekId);
    if (old) this.remove(old, "evictions");
    this.insert(tenantId, dekId, classId, material);
  }

  private tenantGen(tenantId: string): number {
    return this.generation.get(tenantId) ?? 0;
  }

  private classGen(tenantId: string, classId: string | null): number {
    return this.classGeneration.get(scopeKey(tenantId, classId)) ?? 0;
  }

  /** True when the tenant's or the class's keys were dropped since the generations were read. */
  private voided(tenantId: string, classId: string | null, tenantGen: number, classGen: number): boolean {
    return this.tenantGen(tenantId) !== tenantGen || this.classGen(tenantId, classId) !== classGen;
  }

  private load(tenantId: string, dekId: string, classId: string | null, loader: DekLoader): Promise<Loaded> {
    let loads = this.inflight.get(tenantId);
    const pending = loads?.get(dekId);
    if (pending) return pending;
    if (!loads) {
      loads = new Map();
      this.inflight.set(tenantId, loads);
    }
    const tenantLoads = loads;
    const tenantGen = this.tenantGen(tenantId);
    const classGen = this.classGen(tenantId, classId);
    const p = (async (): Promise<Loaded> => {
      this.stats.loads++;
      const material = await loader();
      if (this.voided(tenantId, classId, tenantGen, classGen)) {
        material.destroy();
        throw new TenantDroppedError("the keys of the tenant or data class were dropped while loading");
      }
      this.insert(tenantId, dekId, classId, material);
      return { material, classId };
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
    const tenantGen = this.tenantGen(e.tenantId);
    const classGen = this.classGen(e.tenantId, e.classId);
    this.stats.refreshes++;
    const p = loader().then((material): Loaded => {
      if (this.voided(e.tenantId, e.classId, tenantGen, classGen)) {
        material.destroy();
        throw new TenantDroppedError("the keys of the tenant or data class were dropped while refreshing");
      }
      const current = this.entries.get(e.dekId);
      // At most margin + TTL after this (successful) revocation check.
      const expiresAt = Math.min(e.expiresAt, this.now() + this.refreshMarginMs) + this.opts.ttlMs;
      if (current === e) {
        e.material.destroy();
        e.material = material;
        e.expiresAt = expiresAt;
        e.uses = 0;
        return { material, classId: e.classId };
      }
      if (!current) {
        // The entry expired (or was swept or evicted) while this refresh ran, and requests may be
        // waiting on it as their load: the fresh DEK becomes the entry, on the same schedule.
        this.insert(e.tenantId, e.dekId, e.classId, material);
        const fresh = this.entries.get(e.dekId);
        if (fresh) fresh.expiresAt = expiresAt;
        return { material, classId: e.classId };
      }
      // Replaced meanwhile (put of the same id): keep the newer entry.
      material.destroy();
      return { material: current.material, classId: current.classId };
    });
    const tenantLoads = this.inflight.get(e.tenantId) ?? new Map<string, Promise<Loaded>>();
    this.inflight.set(e.tenantId, tenantLoads);
    tenantLoads.set(e.dekId, p);
    // A failed refresh leaves the entry to serve until its TTL (the KMS gateway also audits the call);
    // requests that joined it as their load get its error, like any failed load.
    p.catch((err: unknown) => {
      // A lock dropped the tenant's (or class's) keys meanwhile: nothing failed, the bytes are already gone.
      if (!(err instanceof TenantDroppedError)) this.opts.onRefreshError?.(err);
    }).finally(() => {
      e.refreshing = false;
      this.refreshesByTenant.set(e.tenantId, (this.refreshesByTenant.get(e.tenantId) ?? 1) - 1);
      if (tenantLoads.get(e.dekId) === p) tenantLoads.delete(e.dekId);
      if (tenantLoads.size === 0 && this.inflight.get(e.tenantId) === tenantLoads) this.inflight.delete(e.tenantId);
    });
  }

  private insert(tenantId: string, dekId: string, classId: string | null, material: DataKeyMaterial): void {
    const t = this.now();
    // Never drop an entry without destroying its bytes (a DEK id taken by another tenant's entry).
    const displaced = this.entries.get(dekId);
    if (displaced && displaced.material !== material) this.remove(displaced, "evictions");
    this.entries.set(dekId, { tenantId, dekId, classId, material, expiresAt: t + this.opts.ttlMs, uses: 0, refreshing: false });
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

  /** Destroys every cached DEK of the tenant (all its classes) and voids loads in flight. Returns how many were dropped. */
  dropTenant(tenantId: string): number {
    this.generation.set(tenantId, this.tenantGen(tenantId) + 1);
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

  /** Destroys the cached DEKs of one data class of the tenant (null: `default`) and voids that class's loads in flight. */
  dropClass(tenantId: string, classId: string | null): number {
    const key = scopeKey(tenantId, classId);
    this.classGeneration.set(key, this.classGen(tenantId, classId) + 1);
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

  /** Cached DEKs of one class of the tenant (null: `default`). */
  countForClass(tenantId: string, classId: string | null): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.tenantId === tenantId && e.classId === classId) n++;
    return n;
  }

  clear(): void {
    for (const e of [...this.entries.values()]) this.remove(e, "evictions");
  }
}
