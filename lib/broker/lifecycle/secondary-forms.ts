// Which DEKs of a class lack their form under the class's secondary key (data_key_wrap), and how
// far the secondary covers the class. A DEK belongs to the secondary's class when its
// data_class_id equals the connection's (both NULL for `default`).
import type { Database, SqlExecutor } from "../../db/database";
import type { KmsProviderName } from "../../kms/types";
import type { DekMissingSecondary } from "./rewrap-one";

const MISSING_SQL = `FROM data_key d JOIN key_connection s ON s.id = $2 AND s.tenant_id = d.tenant_id
  WHERE d.tenant_id = $1 AND d.data_class_id IS NOT DISTINCT FROM s.data_class_id
    AND NOT EXISTS (SELECT 1 FROM data_key_wrap w WHERE w.dek_id = d.id AND w.key_connection_id = s.id)`;

export async function countMissingSecondary(db: SqlExecutor, tenantId: string, connectionId: string): Promise<number> {
  const rows = await db.query<{ n: string }>(`SELECT count(*)::text AS n ${MISSING_SQL}`, [tenantId, connectionId]);
  return Number(rows[0]?.n ?? 0);
}

/** The next DEKs without a secondary form after `afterId`, in id order (the job's cursor), with their primary form. */
export async function nextMissingSecondary(db: Database, tenantId: string, connectionId: string, afterId: string | null, limit: number): Promise<DekMissingSecondary[]> {
  const rows = await db.query<{ id: string; data_class_id: string | null; wrapped_key: Buffer | Uint8Array; provider: KmsProviderName; key_ref: string }>(
    `SELECT d.id, d.data_class_id, d.wrapped_key, k.provider::text AS provider, k.key_ref ${MISSING_SQL.replace("FROM data_key d", "FROM data_key d JOIN key_connection k ON k.id = d.key_connection_id")}
       AND ($3::uuid IS NULL OR d.id > $3::uuid) ORDER BY d.id LIMIT $4`,
    [tenantId, connectionId, afterId, limit],
  );
  return rows.map((r) => ({ id: r.id, dataClassId: r.data_class_id, wrapped: Buffer.from(r.wrapped_key), primary: { provider: r.provider, keyRef: r.key_ref } }));
}

export interface SecondaryCoverage {
  deks: number;
  wrapped: number;
  job: { state: string; done: number; total: number } | null;
}

/** ZSecondaryCoverage of a class's secondary connection: DEKs of the class, those with a secondary form, and the add_secondary job while one is open. */
export async function secondaryCoverage(db: Database, tenantId: string, connectionId: string): Promise<SecondaryCoverage> {
  const rows = await db.query<{ deks: string; wrapped: string; state: string | null; done: number | null; failed: number | null; total: number | null }>(
    `SELECT (SELECT count(*) FROM data_key d WHERE d.tenant_id = $1 AND d.data_class_id IS NOT DISTINCT FROM s.data_class_id)::text AS deks,
            (SELECT count(*) FROM data_key_wrap w WHERE w.tenant_id = $1 AND w.key_connection_id = s.id)::text AS wrapped,
            j.state, j.done, j.failed, j.total
       FROM key_connection s
       LEFT JOIN LATERAL (SELECT state, done, failed, total FROM rewrap_job WHERE tenant_id = $1 AND target_connection_id = s.id AND cause = 'add_secondary' AND state IN ('running', 'paused')
                           ORDER BY started_at DESC LIMIT 1) j ON true
      WHERE s.id = $2 AND s.tenant_id = $1`,
    [tenantId, connectionId],
  );
  const r = rows[0];
  if (!r) return { deks: 0, wrapped: 0, job: null };
  return { deks: Number(r.deks), wrapped: Number(r.wrapped), job: r.state ? { state: r.state, done: (r.done ?? 0) + (r.failed ?? 0), total: r.total ?? 0 } : null };
}

/** Cancels open add_secondary jobs towards the class's secondary connections (it is being removed or replaced). */
export async function cancelSecondaryJobs(tx: SqlExecutor, tenantId: string, classId: string | null): Promise<number> {
  const rows = await tx.query(
    `UPDATE rewrap_job j SET state = 'cancelled', finished_at = now(), leased_by = NULL, lease_until = NULL, updated_at = now()
       FROM key_connection s
      WHERE j.tenant_id = $1 AND j.cause = 'add_secondary' AND j.state IN ('running', 'paused') AND s.id = j.target_connection_id
        AND s.tenant_id = $1 AND s.role = 'secondary' AND s.data_class_id IS NOT DISTINCT FROM $2::uuid
      RETURNING j.id`,
    [tenantId, classId],
  );
  return rows.length;
}
