// Service tokens: `cmk_` + 32 random bytes (base64url). Only SHA-256 of the token is stored;
// the token is returned once at creation. Verification looks up by the non-secret prefix and
// compares hashes in constant time. A fast hash is right here: the token is 256 bits of
// randomness, so there is nothing to brute-force that a slow hash would protect.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
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
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export function generateToken(): { token: string; prefix: string; hashHex: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  return { token, prefix: token.slice(0, PREFIX_LENGTH), hashHex: hashToken(token).toString("hex") };
}

/** Constant-time comparison of two secrets of any length (compares their hashes). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}

export class ServiceTokenStore {
  private byPrefix = new Map<string, ServiceTokenRecord[]>();
  private usedSince = new Set<string>();

  constructor(
    private readonly db: Database,
    /** False while notifications may be missed (listener down): then every verify reads the database. */
    private readonly cacheTrusted: () => boolean = () => true,
  ) {}

  async create(tenantId: string, name: string): Promise<{ id: string; token: string; prefix: string; createdAt: Date }> {
    const { token, prefix, hashHex } = generateToken();
    const row = await this.db.prisma.serviceToken.create({ data: { tenantId, name, prefix, tokenHash: hashHex } });
    return { id: row.id, token, prefix, createdAt: row.createdAt };
  }

  async revoke(tenantId: string, id: string): Promise<boolean> {
    const r = await this.db.prisma.serviceToken.updateMany({ where: { id, tenantId, revokedAt: null }, data: { revokedAt: new Date() } });
    return r.count > 0;
  }

  async list(tenantId: string) {
    return this.db.prisma.serviceToken.findMany({
      where: { tenantId },
      orderBy: { createdAt: "desc" },
      select: { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
    });
  }

  /** Returns the token's record when the token is valid and not revoked. `presentedHash` saves rehashing. */
  async verify(token: string, presentedHash?: Buffer): Promise<ServiceTokenRecord | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const prefix = token.slice(0, PREFIX_LENGTH);
    const trusted = this.cacheTrusted();
    let candidates = trusted ? this.byPrefix.get(prefix) : undefined;
    if (!candidates) {
      const rows = await this.db.prisma.serviceToken.findMany({ where: { prefix } });
      candidates = rows.map((r) => ({
        id: r.id,
        tenantId: r.tenantId,
        name: r.name,
        prefix: r.prefix,
        tokenHash: Buffer.from(r.tokenHash, "hex"),
        revoked: r.revokedAt !== null,
      }));
      if (trusted) this.byPrefix.set(prefix, candidates);
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
  }

  /** Drops every cached record (after a gap in notifications, when a revocation may have been missed). */
  invalidateAll(): void {
    this.byPrefix.clear();
  }

  /** Persists last-used times in one statement, off the request path. */
  async flushLastUsed(): Promise<void> {
    if (this.usedSince.size === 0) return;
    const ids = [...this.usedSince];
    this.usedSince.clear();
    await this.db.prisma.serviceToken.updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: new Date() } });
  }
}
