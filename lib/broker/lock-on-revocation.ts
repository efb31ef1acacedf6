// Detection on use: a KMS call that answers `revoked` locks its tenant (source "kms"), before
// anything else is served. The KMS gateway calls this through its RevokedHandler.
//
// A key the tenant is moving away from (a "retiring" connection, lib/broker/lifecycle) is
// judged by what still depends on it: while some DEK is wrapped only under it, its revocation
// locks the tenant with reason `retiring_key_revoked` (those DEKs are unreadable now); once no
// DEK depends on it, its revocation has no effect on the tenant.
import type { Database } from "../db/database";
import type { KmsError } from "../kms/types";
import type { BrokerContext } from "./context";
import type { KeyOnRecord } from "./kms-gateway";
import { RETIRING_KEY_REVOKED } from "./lifecycle/stale-deks";
import type { TenantView } from "./tenant-registry";
import { SYSTEM_ACTOR } from "./views";

/** DEKs of the tenant still wrapped under this key, when it is not the tenant's connected key; null when it is. */
async function dependentDeksOfEarlierKey(db: Database, tenantId: string, key: KeyOnRecord): Promise<number | null> {
  const rows = await db.query<{ connected: boolean | null; retiring: boolean | null; deks: string }>(
    `SELECT (SELECT bool_or(status = 'connected') FROM key_connection WHERE tenant_id = $1 AND provider = $2::"KmsProviderName" AND key_ref = $3) AS connected,
            (SELECT bool_or(status = 'retiring') FROM key_connection WHERE tenant_id = $1 AND provider = $2::"KmsProviderName" AND key_ref = $3) AS retiring,
            (SELECT count(*) FROM data_key d JOIN key_connection kc ON kc.id = d.key_connection_id
              WHERE d.tenant_id = $1 AND kc.provider = $2::"KmsProviderName" AND kc.key_ref = $3)::text AS deks`,
    [tenantId, key.provider, key.keyRef],
  );
  const row = rows[0];
  if (!row || row.connected === null || row.connected) return null;
  // A replaced key is one nothing is migrating from any more (or the tenant gave up while it was revoked).
  if (!row.retiring) return 0;
  return Number(row.deks);
}

/**
 * A revocation of the connected key locks. One of an earlier key (a probe still in flight when the
 * tenant connected another key, or a retiring key being migrated away from) locks with
 * `retiring_key_revoked` only while DEKs still depend on it, and has no effect once none do.
 * `afterLock` runs once the lock is in force (e.g. reading a deletion window); it must not delay the caller.
 */
export function lockOnRevocation(ctx: Pick<BrokerContext, "registry" | "locks" | "db">, afterLock?: (tenant: TenantView, err: KmsError) => void) {
  return async (tenantId: string, err: KmsError, detectedAt: Date, revokedAt?: Date, requestId?: string, key?: KeyOnRecord): Promise<void> => {
    const tenant = await ctx.registry.getById(tenantId);
    if (!tenant) return;
    let reason = `kms:${err.provider}:${err.reason}`;
    const isConnected = !key || !tenant.key || (tenant.key.provider === key.provider && tenant.key.keyRef === key.keyRef);
    if (!isConnected) {
      const dependent = await dependentDeksOfEarlierKey(ctx.db, tenantId, key);
      if (dependent === 0) return;
      if (dependent !== null) reason = RETIRING_KEY_REVOKED;
    }
    await ctx.locks.lock(tenant, { source: "kms", reason, actor: SYSTEM_ACTOR, detectedAt, revokedAt, requestId });
    afterLock?.(tenant, err);
  };
}
