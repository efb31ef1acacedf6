// Loads console users for sign-in and for every session check. A short cache keeps the API's
// cookie path off the database for most requests while a disabled user loses access within
// seconds. Sessions carry the user's session version from sign-in; signing out bumps it
// (endSessions). The instance that handles the sign-out drops the user from every cache in its
// process at once; other instances notice within the cache TTL (5 s), which bounds how long an
// old cookie keeps working there after sign-out.
import type { Database } from "../db/database";
import type { ConsoleRole } from "./roles";

export interface ConsoleUserRecord {
  id: string;
  email: string;
  name: string | null;
  role: ConsoleRole;
  tenantId: string | null;
  tenantSlug: string | null;
  passwordHash: string | null;
  disabled: boolean;
  /** Sessions issued with a different version are refused. */
  sessionVersion: number;
  /** A verified passkey or TOTP factor exists: sensitive actions need a step-up (lib/auth/authorize.ts). */
  hasFactor: boolean;
  /** Epoch ms of the last step-up; 0 when none. */
  stepUpAt: number;
  /** The user's tenant requires step-up for its admins. */
  stepUpRequired: boolean;
}

const TTL_MS = 5_000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

async function load(db: Database, where: { id: string } | { email: string }): Promise<ConsoleUserRecord | null> {
  const u = await db.prisma.consoleUser.findUnique({
    where,
    include: { tenant: { select: { slug: true, quorum: { select: { requireStepUp: true } } } }, factors: { where: { verifiedAt: { not: null } }, select: { id: true }, take: 1 } },
  });
  if (!u) return null;
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    tenantId: u.tenantId,
    tenantSlug: u.tenant?.slug ?? null,
    passwordHash: u.passwordHash,
    disabled: u.disabledAt !== null,
    sessionVersion: u.sessionVersion,
    hasFactor: u.factors.length > 0,
    stepUpAt: u.stepUpAt?.getTime() ?? 0,
    stepUpRequired: (u.tenant?.quorum?.requireStepUp ?? false) && u.role === "tenant_admin",
  };
}

export function findUserByEmail(db: Database, email: string): Promise<ConsoleUserRecord | null> {
  return load(db, { email: normalizeEmail(email) });
}

/** The session version a session token carries; tokens from before session versions count as 0. */
export function tokenSessionVersion(token: { sessionVersion?: unknown }): number | null {
  const v = token.sessionVersion ?? 0;
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Whether a session token issued with `tokenVersion` is still valid for `user`. */
export function sessionIsCurrent(user: ConsoleUserRecord | null, tokenVersion: number | null): user is ConsoleUserRecord {
  return !!user && tokenVersion !== null && user.sessionVersion === tokenVersion;
}

/** Signing out: every session of the user issued so far stops working (on this instance at once). */
export async function endSessions(db: Database, userId: string): Promise<void> {
  if (!UUID_RE.test(userId)) return;
  await db.prisma.consoleUser.updateMany({ where: { id: userId }, data: { sessionVersion: { increment: 1 } } });
  ActiveUserCache.forgetEverywhere(userId);
}

// Every cache in this process (the API's resolver and next-auth's callbacks each hold one), so a
// sign-out reaches all of them. On globalThis because Next.js bundles its own copy of this module.
const registry = globalThis as { __cmekActiveUserCaches?: Set<WeakRef<ActiveUserCache>> };
const allCaches = (registry.__cmekActiveUserCaches ??= new Set());

export class ActiveUserCache {
  private entries = new Map<string, { at: number; user: ConsoleUserRecord | null }>();

  constructor(
    private readonly db: Database,
    private readonly ttlMs = TTL_MS,
  ) {
    allCaches.add(new WeakRef(this));
  }

  static forgetEverywhere(userId: string): void {
    for (const ref of allCaches) {
      const cache = ref.deref();
      if (cache) cache.forget(userId);
      else allCaches.delete(ref);
    }
  }

  forget(userId: string): void {
    this.entries.delete(userId);
  }

  /**
   * The user if it exists and is not disabled. `sessionVersion`: the version of the session
   * being checked; a cached record older than it (the user signed out and in again on another
   * instance) is reloaded rather than trusted.
   */
  async get(userId: string, sessionVersion?: number | null): Promise<ConsoleUserRecord | null> {
    if (!UUID_RE.test(userId)) return null;
    const hit = this.entries.get(userId);
    const outdated = hit?.user && typeof sessionVersion === "number" && hit.user.sessionVersion < sessionVersion;
    if (hit && !outdated && Date.now() - hit.at < this.ttlMs) return hit.user;
    const user = await load(this.db, { id: userId });
    const active = user && !user.disabled ? user : null;
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(userId, { at: Date.now(), user: active });
    return active;
  }
}
