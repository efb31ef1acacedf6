// The prober's schedule statements (lib/broker/prober.ts), on key_probe. Each key connection is
// judged by the lock scope it belongs to: the tenant row for `default` keys (data_class_id NULL),
// its data_class row otherwise. So a class the KMS locked keeps being probed (to notice the key
// coming back) while the tenant's other classes serve, and a kill-switched class is not probed.

/** The scope's state and lock source, for `kc` (key_connection), `t` (tenant) and `dc` (LEFT JOIN data_class). */
const SCOPE_STATE = `(CASE WHEN kc.data_class_id IS NULL THEN t.state ELSE dc.state END)`;
const SCOPE_SOURCE = `(CASE WHEN kc.data_class_id IS NULL THEN t.lock_source ELSE dc.lock_source END)`;
const SCOPE_JOIN = `JOIN tenant t ON t.id = kc.tenant_id LEFT JOIN data_class dc ON dc.id = kc.data_class_id`;

/**
 * $1: tenants with DEKs cached here (or recently unreachable). Marks their connected keys active,
 * and makes sure keys of KMS-locked scopes have a schedule row. Returns the rows touched (n).
 */
export const RECORD_ACTIVITY_SQL = `WITH up AS (
   INSERT INTO key_probe (key_connection_id, tenant_id, next_probe_at, last_activity_at)
   SELECT kc.id, kc.tenant_id, now(), CASE WHEN kc.tenant_id = ANY($1::uuid[]) THEN now() END
     FROM key_connection kc ${SCOPE_JOIN}
    WHERE kc.status = 'connected'
      AND (kc.tenant_id = ANY($1::uuid[]) OR (${SCOPE_STATE} = 'locked' AND ${SCOPE_SOURCE} = 'kms'))
   ON CONFLICT (key_connection_id) DO UPDATE SET last_activity_at = COALESCE(EXCLUDED.last_activity_at, key_probe.last_activity_at)
   RETURNING 1)
 SELECT count(*)::int AS n FROM up`;

/**
 * Claims up to $7 due keys for instance $1 with a lease of $2 ms; the next probe is one interval
 * ($3 for KMS-locked scopes, $4 otherwise) ahead, early by up to $5 × interval; active = activity
 * within $6 ms.
 */
export const CLAIM_SQL = `UPDATE key_probe kp
    SET leased_by = $1,
        lease_until = now() + make_interval(secs => $2::float8 / 1000),
        next_probe_at = now() + make_interval(secs => (CASE WHEN due.kms_locked THEN $3::float8 ELSE $4::float8 END) / 1000 * (1 - $5::float8 * random()))
   FROM (SELECT p.key_connection_id, (${SCOPE_STATE} = 'locked') AS kms_locked
           FROM key_probe p
           JOIN key_connection kc ON kc.id = p.key_connection_id AND kc.status = 'connected'
           ${SCOPE_JOIN}
          WHERE p.next_probe_at <= now()
            AND (p.lease_until IS NULL OR p.lease_until < now())
            AND ((${SCOPE_STATE} = 'active' AND p.last_activity_at > now() - make_interval(secs => $6::float8 / 1000))
                 OR (${SCOPE_STATE} = 'locked' AND ${SCOPE_SOURCE} = 'kms'))
          ORDER BY p.next_probe_at
          LIMIT $7
            FOR UPDATE OF p SKIP LOCKED) due
  WHERE kp.key_connection_id = due.key_connection_id
 RETURNING kp.key_connection_id, kp.tenant_id, kp.consecutive_failures, due.kms_locked`;
