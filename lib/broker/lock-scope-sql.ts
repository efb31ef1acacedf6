// The lock-state writes of one lock scope: the tenant row (the `default` class) or one data_class
// row (any other class). Both follow the same rules, decided in the UPDATE itself so that two
// instances racing each other cannot get it wrong:
// - a kill switch supersedes a KMS-caused lock (it must survive the key coming back), never the reverse;
// - a real revocation found during a drill supersedes the drill's lock, so the drill cannot end it.
import type { SqlExecutor } from "../db/database";

const SUPERSEDES = `(state <> 'locked' OR ($4 = 'kill_switch' AND lock_source IS DISTINCT FROM 'kill_switch') OR ($4 = 'kms' AND lock_source = 'drill'))`;

/** Locks the scope; null when it was locked already by something this lock does not supersede. */
export async function lockScopeRow(
  db: SqlExecutor,
  tenantId: string,
  classId: string | null,
  at: Date,
  reason: string,
  source: string,
): Promise<{ stateVersion: number; stateSince: Date } | null> {
  const rows =
    classId === null
      ? await db.query<{ state_version: number; state_since: Date }>(
          `UPDATE tenant SET state = 'locked', state_version = state_version + 1, state_since = $2, lock_reason = $3, lock_source = $4, updated_at = $2
            WHERE id = $1 AND ${SUPERSEDES} RETURNING state_version, state_since`,
          [tenantId, at, reason, source],
        )
      : await db.query<{ state_version: number; state_since: Date }>(
          `UPDATE data_class SET state = 'locked', state_version = state_version + 1, state_since = $2, lock_reason = $3, lock_source = $4
            WHERE id = $5 AND tenant_id = $1 AND ${SUPERSEDES} RETURNING state_version, state_since`,
          [tenantId, at, reason, source, classId],
        );
  const row = rows[0];
  return row ? { stateVersion: row.state_version, stateSince: new Date(row.state_since) } : null;
}

/**
 * Ends the scope's lock (or its pending state): to `active`, or back to `pending` for a class
 * that has no key (a kill switch can lock a class before its key is connected). With
 * `onlyIfSource`, only a lock of that source is lifted. Null when nothing changed.
 */
export async function activateScopeRow(
  db: SqlExecutor,
  tenantId: string,
  classId: string | null,
  at: Date,
  to: "active" | "pending",
  onlyIfSource: string | null,
): Promise<{ stateVersion: number } | null> {
  const rows =
    classId === null
      ? await db.query<{ state_version: number }>(
          `UPDATE tenant SET state = $4::"TenantState", state_version = state_version + 1, state_since = $2, lock_reason = NULL, lock_source = NULL, updated_at = $2
            WHERE id = $1 AND state <> $4::"TenantState" AND ($3::text IS NULL OR lock_source = $3::text) RETURNING state_version`,
          [tenantId, at, onlyIfSource, to],
        )
      : await db.query<{ state_version: number }>(
          `UPDATE data_class SET state = $4::"TenantState", state_version = state_version + 1, state_since = $2, lock_reason = NULL, lock_source = NULL
            WHERE id = $5 AND tenant_id = $1 AND state <> $4::"TenantState" AND ($3::text IS NULL OR lock_source = $3::text) RETURNING state_version`,
          [tenantId, at, onlyIfSource, to, classId],
        );
  const row = rows[0];
  return row ? { stateVersion: row.state_version } : null;
}
