// Which DEKs need re-wrapping. The contract shared with rotation detection: DataKey.keyVersion is
// the exact version that wrapped the DEK (null: unknown, e.g. written before versions were
// recorded), KeyConnection.keyVersion the key's current version. A DEK is stale when it is not
// under the connected primary key of its own data class (each class has its own key: a `pii` DEK
// is never compared with the `default` key), or its version is unknown or not the current one. So
// both a key switch and a rotation, in any class, become re-wrap work, without either part calling the other.
import type { Database, SqlExecutor } from "../../db/database";
import type { KmsProviderName } from "../../kms/types";

/** Lock reason when a key the tenant is leaving is revoked while DEKs still depend on it. */
export const RETIRING_KEY_REVOKED = "retiring_key_revoked";

/**
 * SQL condition on `d` (data_key) and `c` (the connected primary key_connection of d's class).
 * A connected key of unknown version leaves version-unknown DEKs alone: re-wrapping them would
 * record an unknown version again, forever.
 */
export const STALE_SQL = `(d.key_connection_id <> c.id OR (c.key_version IS NOT NULL AND (d.key_version IS NULL OR d.key_version <> c.key_version)))`;

/** Joins `c`: the connected primary key of the DEK's own class (data_class_id NULL: `default`). */
export const CONNECTED_JOIN = `JOIN key_connection c ON c.tenant_id = d.tenant_id AND c.status = 'connected' AND c.role = 'primary' AND c.data_class_id IS NOT DISTINCT FROM d.data_class_id`;

export async function countStale(db: SqlExecutor, tenantId: string, afterId?: string | null): Promise<number> {
  const rows = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM data_key d ${CONNECTED_JOIN} WHERE d.tenant_id = $1 AND ${STALE_SQL} AND ($2::uuid IS NULL OR d.id > $2::uuid)`,
    [tenantId, afterId ?? null],
  );
  return Number(rows[0]?.n ?? 0);
}

export interface StaleDek {
  id: string;
  wrapped: Buffer;
  keyVersion: string | null;
  fromConnectionId: string;
  fromProvider: KmsProviderName;
  fromKeyRef: string;
  /** The DEK's class (null: `default`) and that class's connected primary: where it goes. */
  dataClassId: string | null;
  target: { connectionId: string; provider: KmsProviderName; keyRef: string };
}

/** The next stale DEKs after `afterId`, in id order (the job's cursor). */
export async function nextStale(db: Database, tenantId: string, afterId: string | null, limit: number): Promise<StaleDek[]> {
  const rows = await db.query<{
    id: string;
    wrapped_key: Buffer | Uint8Array;
    key_version: string | null;
    kc_id: string;
    provider: KmsProviderName;
    key_ref: string;
    data_class_id: string | null;
    to_id: string;
    to_provider: KmsProviderName;
    to_key_ref: string;
  }>(
    `SELECT d.id, d.wrapped_key, d.key_version, k.id AS kc_id, k.provider::text AS provider, k.key_ref,
            d.data_class_id, c.id AS to_id, c.provider::text AS to_provider, c.key_ref AS to_key_ref
       FROM data_key d ${CONNECTED_JOIN} JOIN key_connection k ON k.id = d.key_connection_id
      WHERE d.tenant_id = $1 AND ${STALE_SQL} AND ($2::uuid IS NULL OR d.id > $2::uuid)
      ORDER BY d.id LIMIT $3`,
    [tenantId, afterId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    wrapped: Buffer.from(r.wrapped_key),
    keyVersion: r.key_version,
    fromConnectionId: r.kc_id,
    fromProvider: r.provider,
    fromKeyRef: r.key_ref,
    dataClassId: r.data_class_id,
    target: { connectionId: r.to_id, provider: r.to_provider, keyRef: r.to_key_ref },
  }));
}

export interface DeksByVersion {
  connectionId: string;
  provider: KmsProviderName;
  keyRef: string;
  status: string;
  keyVersion: string | null;
  /** The connection's current version (KeyConnection.keyVersion). */
  currentVersion: string | null;
  deks: number;
}

/** DEKs per key and version, including keys and versions that no DEK depends on any more (0). */
export async function deksByKeyVersion(db: Database, tenantId: string): Promise<DeksByVersion[]> {
  const rows = await db.query<{ id: string; provider: KmsProviderName; key_ref: string; status: string; key_version: string | null; current_version: string | null; deks: string }>(
    `SELECT kc.id, kc.provider::text AS provider, kc.key_ref, kc.status, v.key_version, kc.key_version AS current_version, coalesce(v.n, 0)::text AS deks
       FROM key_connection kc
       LEFT JOIN LATERAL (
         SELECT d.key_version, count(*) AS n FROM data_key d WHERE d.tenant_id = $1 AND d.key_connection_id = kc.id GROUP BY d.key_version
         UNION ALL
         -- The key's current version, so it is listed even before any DEK uses it.
         SELECT kc.key_version, 0 WHERE NOT EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = $1 AND d.key_connection_id = kc.id AND d.key_version IS NOT DISTINCT FROM kc.key_version)
       ) v ON true
      WHERE kc.tenant_id = $1
      ORDER BY CASE kc.status WHEN 'connected' THEN 0 WHEN 'retiring' THEN 1 ELSE 2 END, kc.created_at DESC, v.key_version NULLS FIRST`,
    [tenantId],
  );
  return rows.map((r) => ({ connectionId: r.id, provider: r.provider, keyRef: r.key_ref, status: r.status, keyVersion: r.key_version, currentVersion: r.current_version, deks: Number(r.deks) }));
}

/** Retiring keys that no DEK depends on any more become "replaced": their revocation no longer matters. */
export async function retireUnusedConnections(db: Database, tenantId: string): Promise<number> {
  const rows = await db.query(
    `UPDATE key_connection kc SET status = 'replaced'
      WHERE kc.tenant_id = $1 AND kc.status = 'retiring'
        AND NOT EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = $1 AND d.key_connection_id = kc.id)
      RETURNING kc.id`,
    [tenantId],
  );
  return rows.length;
}
