// Loads console users for sign-in and for every session check. A short cache keeps the API's
// cookie path off the database for most requests while a disabled user loses access within
// seconds.
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
}

const TTL_MS = 5_000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

async function load(db: Database, where: { id: string } | { email: string }): Promise<ConsoleUserRecord | null> {
  const u = await db.prisma.consoleUser.findUnique({ where, include: { tenant: { select: { slug: true } } } });
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
  };
}

export function findUserByEmail(db: Database, email: string): Promise<ConsoleUserRecord | null> {
  return load(db, { email: normalizeEmail(email) });
}

export class ActiveUserCache {
  private entries = new Map<string, { at: number; user: ConsoleUserRecord | null }>();

  constructor(
    private readonly db: Database,
    private readonly ttlMs = TTL_MS,
  ) {}

  /** The user if it exists and is not disabled. */
  async get(userId: string): Promise<ConsoleUserRecord | null> {
    if (!UUID_RE.test(userId)) return null;
    const hit = this.entries.get(userId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.user;
    const user = await load(this.db, { id: userId });
    const active = user && !user.disabled ? user : null;
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(userId, { at: Date.now(), user: active });
    return active;
  }
}
