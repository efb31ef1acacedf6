// The data path's view of tenants and their keys, held in memory so that an encrypt or
// decrypt makes no database round trip. Entries are dropped when a notification says the
// tenant changed (see cluster-events.ts), and reloaded on next use.
import type { Database } from "../db/database";
import type { KmsProviderName } from "../kms/types";

export type TenantStateName = "pending" | "active" | "locked";

export interface ConnectedKey {
  connectionId: string;
  provider: KmsProviderName;
  keyRef: string;
  keyVersion: string | null;
  canaryWrapped: Buffer | null;
  lastValidatedAt: Date | null;
}

/** The name of the class every tenant has; its state is the tenant row's, its key rows have data_class_id NULL. */
export const DEFAULT_CLASS = "default";

/**
 * What a lock scope holds: its lock state and its keys. The `default` class is the TenantView
 * itself; every other data class is a DataClassView (lib/broker/data-classes.ts).
 */
export interface ClassScope {
  state: TenantStateName;
  stateVersion: number;
  stateSince: Date;
  lockReason: string | null;
  lockSource: string | null;
  /** The class's primary key: wraps new DEKs, unwraps first. */
  key: ConnectedKey | null;
  /** The class's secondary key, when it has one: unwraps when the primary is unavailable. */
  secondary: ConnectedKey | null;
}

export interface DataClassView extends ClassScope {
  /** data_class.id; named in the header of this class's ciphertexts. */
  id: string;
  name: string;
  tenantId: string;
}

export interface TenantView extends ClassScope {
  id: string;
  slug: string;
  name: string;
  manualResume: boolean;
  /** Set once the tenant's data keys were destroyed (crypto-shredding): every data request is refused with 410. */
  shreddedAt: Date | null;
  /** The tenant's classes other than `default`, by name. */
  classes: Map<string, DataClassView>;
}

/** A class of a tenant: its name, its data_class id (null for `default`) and its lock scope (the tenant itself for `default`). */
export interface ClassRef {
  name: string;
  id: string | null;
  scope: ClassScope;
}

/** The class by name (undefined: `default`); undefined when the tenant has no such class. */
export function classByName(tenant: TenantView, name: string | undefined): ClassRef | undefined {
  if (name === undefined || name === DEFAULT_CLASS) return { name: DEFAULT_CLASS, id: null, scope: tenant };
  const c = tenant.classes.get(name);
  return c ? { name: c.name, id: c.id, scope: c } : undefined;
}

/** The class of a DEK or key connection by its data_class_id (null: `default`). */
export function classById(tenant: TenantView, classId: string | null): ClassRef | undefined {
  if (classId === null) return { name: DEFAULT_CLASS, id: null, scope: tenant };
  for (const c of tenant.classes.values()) if (c.id === classId) return { name: c.name, id: c.id, scope: c };
  return undefined;
}

/** Every class of the tenant, `default` first. */
export function allClasses(tenant: TenantView): ClassRef[] {
  return [{ name: DEFAULT_CLASS, id: null, scope: tenant }, ...[...tenant.classes.values()].map((c) => ({ name: c.name, id: c.id, scope: c }))];
}

/** The lock-state fields of a scope (tenant or class), as transitions and notifications carry them. */
export type ClassState = Pick<ClassScope, "state" | "stateVersion" | "stateSince" | "lockReason" | "lockSource">;

function pickState(s: ClassState): ClassState {
  return { state: s.state, stateVersion: s.stateVersion, stateSince: s.stateSince, lockReason: s.lockReason, lockSource: s.lockSource };
}

const NEGATIVE_TTL_MS = 1000;

function connectedKey(k: { id: string; provider: KmsProviderName; keyRef: string; keyVersion: string | null; canaryWrapped: Uint8Array | null; lastValidatedAt: Date | null }): ConnectedKey {
  return {
    connectionId: k.id,
    provider: k.provider,
    keyRef: k.keyRef,
    keyVersion: k.keyVersion,
    canaryWrapped: k.canaryWrapped ? Buffer.from(k.canaryWrapped) : null,
    lastValidatedAt: k.lastValidatedAt,
  };
}

export class TenantRegistry {
  private bySlug = new Map<string, TenantView>();
  private slugById = new Map<string, string>();
  private missing = new Map<string, number>();
  private loading = new Map<string, Promise<TenantView | null>>();

  constructor(private readonly db: Database) {}

  async getBySlug(slug: string): Promise<TenantView | null> {
    const cached = this.bySlug.get(slug);
    if (cached) return cached;
    const missAt = this.missing.get(slug);
    if (missAt !== undefined && Date.now() - missAt < NEGATIVE_TTL_MS) return null;
    let p = this.loading.get(slug);
    if (!p) {
      p = this.load({ slug }).finally(() => this.loading.delete(slug));
      this.loading.set(slug, p);
    }
    return p;
  }

  async getById(id: string): Promise<TenantView | null> {
    const slug = this.slugById.get(id);
    if (slug) {
      const cached = this.bySlug.get(slug);
      if (cached) return cached;
    }
    return this.load({ id });
  }

  /** Reads a tenant fresh from the database and caches it. */
  async load(where: { slug: string } | { id: string }): Promise<TenantView | null> {
    const t = await this.db.prisma.tenant.findUnique({
      where,
      include: {
        keys: { where: { status: "connected" }, orderBy: { createdAt: "desc" } },
        dataClasses: { orderBy: { name: "asc" } },
      },
    });
    if (!t) {
      if ("slug" in where) this.missing.set(where.slug, Date.now());
      return null;
    }
    // The newest connected key of each (class, role): a class's primary and its secondary.
    const keyOf = (classId: string | null, role: string): ConnectedKey | null => {
      const k = t.keys.find((c) => c.dataClassId === classId && c.role === role);
      return k ? connectedKey(k) : null;
    };
    const view: TenantView = {
      id: t.id,
      slug: t.slug,
      name: t.name,
      state: t.state,
      stateVersion: t.stateVersion,
      stateSince: t.stateSince,
      lockReason: t.lockReason,
      lockSource: t.lockSource,
      manualResume: t.manualResume,
      shreddedAt: t.shreddedAt,
      key: keyOf(null, "primary"),
      secondary: keyOf(null, "secondary"),
      classes: new Map(
        t.dataClasses.map((c) => [
          c.name,
          {
            id: c.id,
            name: c.name,
            tenantId: t.id,
            state: c.state,
            stateVersion: c.stateVersion,
            stateSince: c.stateSince,
            lockReason: c.lockReason,
            lockSource: c.lockSource,
            key: keyOf(c.id, "primary"),
            secondary: keyOf(c.id, "secondary"),
          },
        ]),
      ),
    };
    // A slower load must not overwrite a newer state applied meanwhile by a notification: the
    // tenant's own (the default class's), nor any class's (each class is its own lock scope).
    const current = this.bySlug.get(t.slug);
    if (current) {
      if (current.stateVersion > view.stateVersion) {
        for (const c of view.classes.values()) this.applyClassState(t.id, c.id, c);
        return current;
      }
      for (const c of current.classes.values()) {
        const loaded = view.classes.get(c.name);
        if (loaded && loaded.id === c.id && c.stateVersion > loaded.stateVersion) Object.assign(loaded, pickState(c));
      }
    }
    this.missing.delete(t.slug);
    this.bySlug.set(t.slug, view);
    this.slugById.set(t.id, t.slug);
    return view;
  }

  /** Applies a state change carried by a notification, if it is newer than what we hold. Returns the view when applied. */
  applyState(
    tenantId: string,
    s: Pick<TenantView, "state" | "stateVersion" | "stateSince" | "lockReason" | "lockSource">,
  ): TenantView | null {
    const slug = this.slugById.get(tenantId);
    const view = slug ? this.bySlug.get(slug) : undefined;
    if (!view || view.stateVersion >= s.stateVersion) return null;
    Object.assign(view, s);
    return view;
  }

  /** Applies a class's state change carried by a notification, if it is newer than what we hold. Returns the class view when applied. */
  applyClassState(tenantId: string, classId: string, s: ClassState): DataClassView | null {
    const view = this.cached(tenantId);
    if (!view) return null;
    for (const c of view.classes.values()) {
      if (c.id !== classId) continue;
      if (c.stateVersion >= s.stateVersion) return null;
      Object.assign(c, pickState(s));
      return c;
    }
    return null;
  }

  /** The view requests are served from right now, if one is cached. */
  cached(tenantId: string): TenantView | undefined {
    const slug = this.slugById.get(tenantId);
    return slug ? this.bySlug.get(slug) : undefined;
  }

  invalidate(tenantId: string): void {
    const slug = this.slugById.get(tenantId);
    if (slug) this.bySlug.delete(slug);
  }

  invalidateAll(): void {
    this.bySlug.clear();
    this.missing.clear();
  }

  cachedTenants(): TenantView[] {
    return [...this.bySlug.values()];
  }
}
