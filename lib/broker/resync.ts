// After a gap in the notification channel, notifications may have been missed: a lock, a key
// change, a token revocation decided on another instance. Everything held in memory that such a
// notification would have invalidated is dropped, and DEKs of tenants now locked are destroyed.
import type { BrokerContext } from "./context";

export type ResyncDeps = Pick<BrokerContext, "registry" | "cache" | "tokens"> & Partial<Pick<BrokerContext, "governance">>;

export async function resyncAfterGap(ctx: ResyncDeps): Promise<void> {
  // Tokens first and synchronously: a token revoked during the gap must not be accepted by any
  // request served after the reconnect, not even while the tenants below are being re-read.
  ctx.tokens.invalidateAll();
  // A policy narrowed during the gap applies from the first request after it.
  ctx.governance?.invalidateAll();
  const cached = ctx.registry.cachedTenants();
  ctx.registry.invalidateAll();
  for (const t of cached) {
    const fresh = await ctx.registry.load({ id: t.id });
    if (!fresh || fresh.state === "locked") ctx.cache.dropTenant(t.id);
  }
}
