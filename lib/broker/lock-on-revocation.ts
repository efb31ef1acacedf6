// Detection on use: a KMS call that answers `revoked` locks the data class of the key that
// answered (source "kms"), before anything else is served; the tenant's other classes keep
// serving. The KMS gateway calls this through its RevokedHandler.
//
// A key the class is moving away from (a "retiring" connection, lib/broker/lifecycle) is
// judged by what still depends on it: while some DEK is wrapped only under it, its revocation
// locks the class with reason `retiring_key_revoked` (those DEKs are unreadable now); once no
// DEK depends on it, its revocation has no effect.
import type { Database } from "../db/database";
import type { KmsError } from "../kms/types";
import type { BrokerContext } from "./context";
import type { KeyOnRecord } from "./kms-gateway";
import { RETIRING_KEY_REVOKED } from "./lifecycle/stale-deks";
import { allClasses, classById, type ClassRef, type ConnectedKey, type TenantView } from "./tenant-registry";
import { SYSTEM_ACTOR } from "./views";

const sameKey = (k: ConnectedKey | null, key: KeyOnRecord) => k !== null && k.provider === key.provider && k.keyRef === key.keyRef;

/**
 * The class whose key answered: the caller's word when it gave one, else the class holding the key
 * as its primary or secondary in memory, else the newest connection of that key in the database.
 * Undefined: a class removed meanwhile (nothing to lock).
 */
async function classOfKey(db: Database, tenant: TenantView, key: KeyOnRecord | undefined): Promise<ClassRef | undefined> {
  if (!key) return classById(tenant, null);
  if (key.dataClassId !== undefined) return classById(tenant, key.dataClassId);
  const held = allClasses(tenant).find((c) => sameKey(c.scope.key, key) || sameKey(c.scope.secondary, key));
  if (held) return held;
  const rows = await db.query<{ data_class_id: string | null }>(
    `SELECT data_class_id FROM key_connection WHERE tenant_id = $1 AND provider = $2::"KmsProviderName" AND key_ref = $3 ORDER BY created_at DESC LIMIT 1`,
    [tenant.id, key.provider, key.keyRef],
  );
  return classById(tenant, rows[0]?.data_class_id ?? null);
}

/** DEKs of the class still wrapped under this key, when it is not one of the class's connected keys; null when it is. */
async function dependentDeksOfEarlierKey(db: Database, tenantId: string, classId: string | null, key: KeyOnRecord): Promise<number | null> {
  const rows = await db.query<{ connected: boolean | null; retiring: boolean | null; deks: string }>(
    `SELECT (SELECT bool_or(status = 'connected') FROM key_connection WHERE tenant_id = $1 AND data_class_id IS NOT DISTINCT FROM $4::uuid AND provider = $2::"KmsProviderName" AND key_ref = $3) AS connected,
            (SELECT bool_or(status = 'retiring') FROM key_connection WHERE tenant_id = $1 AND data_class_id IS NOT DISTINCT FROM $4::uuid AND provider = $2::"KmsProviderName" AND key_ref = $3) AS retiring,
            (SELECT count(*) FROM data_key d JOIN key_connection kc ON kc.id = d.key_connection_id
              WHERE d.tenant_id = $1 AND kc.provider = $2::"KmsProviderName" AND kc.key_ref = $3 AND d.data_class_id IS NOT DISTINCT FROM $4::uuid)::text AS deks`,
    [tenantId, key.provider, key.keyRef, classId],
  );
  const row = rows[0];
  if (!row || row.connected === null || row.connected) return null;
  // A replaced key is one nothing is migrating from any more (or the class gave up while it was revoked).
  if (!row.retiring) return 0;
  return Number(row.deks);
}

/**
 * A revocation of a class's connected key (primary or secondary) locks that class. One of an
 * earlier key of the class (a probe still in flight when another key was connected, or a retiring
 * key being migrated away from) locks with `retiring_key_revoked` only while DEKs still depend on
 * it, and has no effect once none do. `afterLock` runs once the lock is in force (e.g. reading a
 * deletion window); it must not delay the caller.
 */
export function lockOnRevocation(ctx: Pick<BrokerContext, "registry" | "locks" | "db">, afterLock?: (tenant: TenantView, err: KmsError) => void) {
  return async (tenantId: string, err: KmsError, detectedAt: Date, revokedAt?: Date, requestId?: string, key?: KeyOnRecord): Promise<void> => {
    const tenant = await ctx.registry.getById(tenantId);
    if (!tenant) return;
    const cls = await classOfKey(ctx.db, tenant, key);
    if (!cls) return;
    let reason = `kms:${err.provider}:${err.reason}`;
    const isConnected = !key || !cls.scope.key || sameKey(cls.scope.key, key) || sameKey(cls.scope.secondary, key);
    if (!isConnected) {
      const dependent = await dependentDeksOfEarlierKey(ctx.db, tenantId, cls.id, key);
      if (dependent === 0) return;
      if (dependent !== null) reason = RETIRING_KEY_REVOKED;
    }
    await ctx.locks.lock(tenant, { source: "kms", reason, actor: SYSTEM_ACTOR, detectedAt, revokedAt, requestId, dataClass: cls.name });
    afterLock?.(tenant, err);
  };
}
