// Resolves a tenant for an operation: from memory while the notification channel is up, fresh
// from the database while it is down (a lock decided elsewhere could otherwise be missed).
import type { BrokerContext } from "./context";
import { BrokerError } from "./errors";
import type { TenantView } from "./tenant-registry";

export type TenantLookupDeps = Pick<BrokerContext, "bus" | "registry" | "cache">;

export async function requireTenant(ctx: TenantLookupDeps, slug: string): Promise<TenantView> {
  const t = ctx.bus.connected ? await ctx.registry.getBySlug(slug) : await ctx.registry.load({ slug });
  if (!t) throw new BrokerError("tenant_not_found", `no tenant "${slug}"`);
  if (!ctx.bus.connected && t.state === "locked") ctx.cache.dropTenant(t.id);
  return t;
}

/** A fresh read (not the in-memory view): for operations that must see other instances' changes. */
export async function loadTenant(ctx: Pick<BrokerContext, "registry">, slug: string): Promise<TenantView> {
  const t = await ctx.registry.load({ slug });
  if (!t) throw new BrokerError("tenant_not_found", `no tenant "${slug}"`);
  return t;
}
