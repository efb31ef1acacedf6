// Detection on use: a KMS call that answers `revoked` locks its tenant (source "kms"), before
// anything else is served. The KMS gateway calls this through its RevokedHandler.
import type { KmsError } from "../kms/types";
import type { BrokerContext } from "./context";
import type { TenantView } from "./tenant-registry";
import { SYSTEM_ACTOR } from "./views";

/** `afterLock` runs once the lock is in force (e.g. reading a deletion window); it must not delay the caller. */
export function lockOnRevocation(ctx: Pick<BrokerContext, "registry" | "locks">, afterLock?: (tenant: TenantView, err: KmsError) => void) {
  return async (tenantId: string, err: KmsError, detectedAt: Date, revokedAt?: Date, requestId?: string, probedKeyRef?: string): Promise<void> => {
    const tenant = await ctx.registry.getById(tenantId);
    if (!tenant) return;
    // A probe that started before the tenant connected another key reports on the replaced key:
    // that must not lock the tenant again once it runs on the new one (restoring a revoked KMIP key
    // is connecting a new key, and a probe of the old one may still be in flight).
    if (probedKeyRef && tenant.key && tenant.key.keyRef !== probedKeyRef) return;
    await ctx.locks.lock(tenant, { source: "kms", reason: `kms:${err.provider}:${err.reason}`, actor: SYSTEM_ACTOR, detectedAt, revokedAt, requestId });
    afterLock?.(tenant, err);
  };
}
