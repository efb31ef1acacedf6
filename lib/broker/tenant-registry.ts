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

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  state: TenantStateName;
  stateVersion: number;
  stateSince: Date;
  lockReason: string | null;
  lockSource: string | null;
  manualResume: boolean;
  /** Set once the tenant's data keys were destroyed (crypto-shredding): every data request is refused with 410. */
  shreddedAt: Date | null;
  key: ConnectedKey | null;
}

const NEGATIVE_TTL_MS = 1000;

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
      include: { keys: { where: { status: "connected" }, orderBy: { createdAt: "desc" }, take: 1 } },
    });
    if (!t) {
      if ("slug" in where) this.missing.set(where.slug, Date.now());
      return null;
    }
    const k = t.keys[0];
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
      key: k
        ? {
            connectionId: k.id,
            provider: k.provider,
            keyRef: k.keyRef,
            keyVersion: k.keyVersion,
            canaryWrapped: k.canaryWrapped ? Buffer.from(k.canaryWrapped) : null,
            lastValidatedAt: k.lastValidatedAt,
          }
        : null,
    };
    // A slower load must not overwrite a newer state applied meanwhile by a notification.
    const current = this.bySlug.get(t.slug);
    if (current && current.stateVersion > view.stateVersion) return current;
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
