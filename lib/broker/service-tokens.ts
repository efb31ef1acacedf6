// Service tokens: `cmk_` + 32 random bytes (base64url). Only SHA-256 of the token is stored;
// the token is returned once at creation. Verification looks up by the non-secret prefix and
// compares hashes in constant time. A fast hash is right here: the token is 256 bits of
// randomness, so there is nothing to brute-force that a slow hash would protect.
import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import type { TokenScope } from "../auth/caller";
import type { Database } from "../db/database";

export const TOKEN_PREFIX = "cmk_";
const PREFIX_LENGTH = 12;

export interface ServiceTokenRecord {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  tokenHash: Buffer;
  revoked: boolean;
  scope: TokenScope;
}

const OPERATIONS = ["encrypt", "decrypt"] as const;

/**
 * A token's scope from its columns (service_token.operations, .data_classes; empty = unrestricted).
 * An operation this version does not know is dropped, never widened: a row naming only unknown
 * operations allows none.
 */
export function scopeOfColumns(operations: readonly string[], dataClasses: readonly string[]): TokenScope {
  return {
    operations: operations.length ? OPERATIONS.filter((op) => operations.includes(op)) : null,
    dataClasses: dataClasses.length ? [...dataClasses] : null,
  };
}

/** The columns of a scope: both operations and "every class" are stored as empty (unrestricted); lists sorted. */
export function columnsOfScope(scope: TokenScope): { operations: string[]; dataClasses: string[] } {
  const ops = scope.operations ?? [];
  return {
    operations: OPERATIONS.every((op) => ops.includes(op)) ? [] : OPERATIONS.filter((op) => ops.includes(op)),
    dataClasses: scope.dataClasses ? [...new Set(scope.dataClasses)].sort() : [],
  };
}

export function hashToken(token: string): Buffer {
  // One-shot hash(): no Hash object per call (this runs on every data-path request).
  return hash("sha256", token, "buffer");
}

export function generateToken(): { token: string; prefix: string; hashHex: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  return { token, prefix: token.slice(0, PREFIX_LENGTH), hashHex: hashToken(token).toString("hex") };
}

/** Constant-time comparison of two secrets of any length (compares their hashes). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}

export interface ServiceTokenStoreOptions {
  /** Unknown prefixes remembered (least recently seen dropped first), so repeats cost no query. */
  maxMissEntries?: number;
  missTtlMs?: number;
}

export class ServiceTokenStore {
  /** Prefixes that have rows: bounded by the tokens that exist. */
  private byPrefix = new Map<string, ServiceTokenRecord[]>();
  /**
   * Prefixes without rows, in least-recently-seen order (a Map iterates in insertion order). It
   * used to share byPrefix and grow by one entry per random token presented.
   */
  private misses = new Map<string, number>();
  private lookups = new Map<string, Promise<ServiceTokenRecord[]>>();
  private usedSince = new Set<string>();
  private readonly maxMisses: number;
  private readonly missTtlMs: number;
  readonly stats = { lookups: 0 };

  constructor(
    private readonly db: Database,
    /** False while notifications may be missed (listener down): then every verify reads the database. */
    private readonly cacheTrusted: () => boolean = () => true,
    opts: ServiceTokenStoreOptions = {},
  ) {
    this.maxMisses = opts.maxMissEntries ?? 10_000;
    this.missTtlMs = opts.missTtlMs ?? 60_000;
  }

  get missCacheSize(): number {
    return this.misses.size;
  }

  /** True when verifying this token would query the database (its prefix is in neither cache). */
  needsLookup(token: string): boolean {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return false;
    const prefix = token.slice(0, PREFIX_LENGTH);
    return !this.byPrefix.has(prefix) && !this.isKnownMiss(prefix);
  }

  private isKnownMiss(prefix: string): boolean {
    const at = this.misses.get(prefix);
    if (at === undefined) return false;
    if (Date.now() - at > this.missTtlMs) {
      this.misses.delete(prefix);
      return false;
    }
    return true;
  }

  private rememberMiss(prefix: string): void {
    this.misses.delete(prefix);
    this.misses.set(prefix, Date.now());
    while (this.misses.size > this.maxMisses) this.misses.delete(this.misses.keys().next().value!);
  }

  /** One query per prefix at a time, however many requests present it concurrently. */
  private lookup(prefix: string, cacheResult = true): Promise<ServiceTokenRecord[]> {
    let p = this.lookups.get(prefix);
    if (!p) {
      this.stats.lookups++;
      p = this.db.prisma.serviceToken
        .findMany({ where: { prefix } })
        .then((rows) => {
          const candidates = rows.map((r) => ({
            id: r.id,
            tenantId: r.tenantId,
            name: r.name,
            prefix: r.prefix,
            tokenHash: Buffer.from(r.tokenHash, "hex"),
            revoked: r.revokedAt !== null,
            scope: scopeOfColumns(r.operations, r.dataClasses),
          }));
          if (!cacheResult) return candidates;
          if (candidates.length) this.byPrefix.set(prefix, candidates);
          else this.rememberMiss(prefix);
          return candidates;
        })
        .finally(() => this.lookups.delete(prefix));
      this.lookups.set(prefix, p);
    }
    return p;
  }

  async create(tenantId: string, name: string, scope: TokenScope = { operations: null, dataClasses: null }): Promise<{ id: string; token: string; prefix: string; createdAt: Date; scope: TokenScope }> {
    const { token, prefix, hashHex } = generateToken();
    const row = await this.db.prisma.serviceToken.create({ data: { tenantId, name, prefix, tokenHash: hashHex, ...columnsOfScope(scope) } });
    this.misses.delete(prefix);
    // Cached now (with any other row sharing the prefix), so its first use costs no query and no
    // share of the caller address's budget of unknown-token lookups: a vendor provisioning
    // hundreds of tenants from one address would otherwise get 429s on their first requests.
    if (this.cacheTrusted()) {
      await this.lookup(prefix).catch(() => {
        // Safe to drop: the token exists and is returned; its first verify looks it up instead.
      });
    }
    return { id: row.id, token, prefix, createdAt: row.createdAt, scope: scopeOfColumns(row.operations, row.dataClasses) };
  }

  async revoke(tenantId: string, id: string): Promise<boolean> {
    const r = await this.db.prisma.serviceToken.updateMany({ where: { id, tenantId, revokedAt: null }, data: { revokedAt: new Date() } });
    return r.count > 0;
  }

  async list(tenantId: string) {
    return this.db.prisma.serviceToken.findMany({
      where: { tenantId },
      orderBy: { createdAt: "desc" },
      select: { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true, operations: true, dataClasses: true },
    });
  }

  /** Returns the token's record when the token is valid and not revoked. `presentedHash` saves rehashing. */
  async verify(token: string, presentedHash?: Buffer): Promise<ServiceTokenRecord | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const prefix = token.slice(0, PREFIX_LENGTH);
    const trusted = this.cacheTrusted();
    let candidates = trusted ? this.byPrefix.get(prefix) : undefined;
    if (!candidates) {
      if (trusted && this.isKnownMiss(prefix)) return null;
      candidates = await this.lookup(prefix, trusted);
    }
    const presented = presentedHash ?? hashToken(token);
    let match: ServiceTokenRecord | null = null;
    for (const c of candidates) {
      if (c.tokenHash.length === presented.length && timingSafeEqual(c.tokenHash, presented) && !c.revoked) match = c;
    }
    if (match) this.usedSince.add(match.id);
    return match;
  }

  /** Drops cached records so the next verify re-reads them (after a revoke anywhere in the cluster). */
  invalidateTenant(tenantId: string): void {
    for (const [prefix, recs] of this.byPrefix) if (recs.some((r) => r.tenantId === tenantId)) this.byPrefix.delete(prefix);
    // A token created on another instance may have a prefix this one remembered as unknown.
    this.misses.clear();
  }

  /** Drops every cached record (after a gap in notifications, when a revocation may have been missed). */
  invalidateAll(): void {
    this.byPrefix.clear();
    this.misses.clear();
  }

  /** Persists last-used times in one statement, off the request path. */
  async flushLastUsed(): Promise<void> {
    if (this.usedSince.size === 0) return;
    const ids = [...this.usedSince];
    this.usedSince.clear();
    await this.db.prisma.serviceToken.updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: new Date() } });
  }
}
