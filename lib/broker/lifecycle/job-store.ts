// Re-wrap jobs in PostgreSQL (table rewrap_job). A job is worked only under a lease
// (leased_by, lease_until), renewed with every batch; an instance that dies (kill -9) stops
// renewing, and once the lease lapses any instance takes the job over from its cursor.
import type { Database, SqlExecutor } from "../../db/database";

export type JobState = "running" | "paused" | "completed" | "cancelled";
/** add_secondary: gives every DEK of the target's class a form under that secondary key (data_key_wrap). */
export type JobCause = "key_switch" | "rotation" | "manual" | "cancel_switch" | "add_secondary";

export interface RewrapJob {
  id: string;
  tenantId: string;
  state: JobState;
  cause: JobCause;
  targetConnectionId: string;
  targetVersion: string | null;
  total: number;
  done: number;
  failed: number;
  kmsCalls: number;
  cursor: string | null;
  pauseCause: string | null;
  consecutiveFailures: number;
  nextRunAt: Date;
  leasedBy: string | null;
  leaseUntil: Date | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

const COLUMNS = `id, tenant_id, state, cause, target_connection_id, target_version, total, done, failed, kms_calls, cursor, pause_cause,
  consecutive_failures, next_run_at, leased_by, lease_until, started_at, updated_at, finished_at`;

type Row = {
  id: string;
  tenant_id: string;
  state: JobState;
  cause: JobCause;
  target_connection_id: string;
  target_version: string | null;
  total: number;
  done: number;
  failed: number;
  kms_calls: number;
  cursor: string | null;
  pause_cause: string | null;
  consecutive_failures: number;
  next_run_at: Date;
  leased_by: string | null;
  lease_until: Date | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
};

function toJob(r: Row): RewrapJob {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    state: r.state,
    cause: r.cause,
    targetConnectionId: r.target_connection_id,
    targetVersion: r.target_version,
    total: r.total,
    done: r.done,
    failed: r.failed,
    kmsCalls: r.kms_calls,
    cursor: r.cursor,
    pauseCause: r.pause_cause,
    consecutiveFailures: r.consecutive_failures,
    nextRunAt: new Date(r.next_run_at),
    leasedBy: r.leased_by,
    leaseUntil: r.lease_until ? new Date(r.lease_until) : null,
    startedAt: new Date(r.started_at),
    updatedAt: new Date(r.updated_at),
    finishedAt: r.finished_at ? new Date(r.finished_at) : null,
  };
}

export interface StartOptions {
  /** Start no job for a target (connection and version) that already had one. */
  onlyIfNewTarget?: boolean;
  /** The key connection the job is for (a data class's primary); default: the newest connected primary. */
  targetConnectionId?: string;
}

export class RewrapJobStore {
  constructor(private readonly db: Database) {}

  /** The tenant's open (running or paused) job, if any. */
  async open(tenantId: string): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(`SELECT ${COLUMNS} FROM rewrap_job WHERE tenant_id = $1 AND state IN ('running', 'paused') ORDER BY started_at DESC LIMIT 1`, [tenantId]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** The tenant's most recent job, open or not. */
  async latest(tenantId: string): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(`SELECT ${COLUMNS} FROM rewrap_job WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT 1`, [tenantId]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  async get(tenantId: string, jobId: string): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(`SELECT ${COLUMNS} FROM rewrap_job WHERE tenant_id = $1 AND id = $2`, [tenantId, jobId]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  /**
   * Starts a job towards the tenant's connected key unless one is open (returns that one, created
   * false). Serialized per tenant by a row lock on the tenant, so two instances never open two.
   * With `onlyIfNewTarget`, no job is started for a target (connection and version) that already
   * had one: the scheduler's sweep starts one job per rotation or switch, not one per sweep.
   */
  async start(tenantId: string, cause: JobCause, total: (db: SqlExecutor) => Promise<number>, opts: StartOptions = {}): Promise<{ job: RewrapJob | null; created: boolean }> {
    return this.db.transaction((tx) => this.startIn(tx, tenantId, cause, total, opts));
  }

  /** start() inside the caller's transaction (a cancel swaps keys and opens the way back atomically). */
  async startIn(tx: SqlExecutor, tenantId: string, cause: JobCause, total: (db: SqlExecutor) => Promise<number>, opts: StartOptions = {}): Promise<{ job: RewrapJob | null; created: boolean }> {
    await tx.query(`SELECT id FROM tenant WHERE id = $1 FOR UPDATE`, [tenantId]);
    const open = await tx.query<Row>(`SELECT ${COLUMNS} FROM rewrap_job WHERE tenant_id = $1 AND state IN ('running', 'paused') LIMIT 1`, [tenantId]);
    if (open[0]) return { job: toJob(open[0]), created: false };
    // The job's recorded target: the key named (a class's key that switched or rotated), else the newest connected primary.
    const target = await tx.query<{ id: string; key_version: string | null }>(
      `SELECT id, key_version FROM key_connection WHERE tenant_id = $1 AND status = 'connected' AND role = 'primary' AND ($2::uuid IS NULL OR id = $2::uuid)
        ORDER BY (data_class_id IS NULL) DESC, created_at DESC LIMIT 1`,
      [tenantId, opts.targetConnectionId ?? null],
    );
    const t = target[0];
    if (!t) return { job: null, created: false };
    if (opts.onlyIfNewTarget) {
      const seen = await tx.query(`SELECT 1 FROM rewrap_job WHERE tenant_id = $1 AND target_connection_id = $2 AND target_version IS NOT DISTINCT FROM $3 LIMIT 1`, [tenantId, t.id, t.key_version]);
      if (seen.length > 0) return { job: null, created: false };
    }
    const n = await total(tx);
    const rows = await tx.query<Row>(
      `INSERT INTO rewrap_job (tenant_id, state, cause, target_connection_id, target_version, total) VALUES ($1, 'running', $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [tenantId, cause, t.id, t.key_version, n],
    );
    return { job: toJob(rows[0]!), created: true };
  }

  /**
   * Starts an add_secondary job towards one secondary connection, unless the tenant has an open job
   * (returned, created false: the sweep starts this one once that finished). Same row lock as start().
   */
  async startSecondary(tenantId: string, connectionId: string, total: (db: SqlExecutor) => Promise<number>): Promise<{ job: RewrapJob | null; created: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT id FROM tenant WHERE id = $1 FOR UPDATE`, [tenantId]);
      const open = await tx.query<Row>(`SELECT ${COLUMNS} FROM rewrap_job WHERE tenant_id = $1 AND state IN ('running', 'paused') LIMIT 1`, [tenantId]);
      if (open[0]) return { job: toJob(open[0]), created: false };
      const target = await tx.query(`SELECT 1 FROM key_connection WHERE id = $1 AND tenant_id = $2 AND status = 'connected' AND role = 'secondary'`, [connectionId, tenantId]);
      if (target.length === 0) return { job: null, created: false };
      const n = await total(tx);
      if (n === 0) return { job: null, created: false };
      const rows = await tx.query<Row>(
        `INSERT INTO rewrap_job (tenant_id, state, cause, target_connection_id, target_version, total) VALUES ($1, 'running', 'add_secondary', $2, NULL, $3) RETURNING ${COLUMNS}`,
        [tenantId, connectionId, n],
      );
      return { job: toJob(rows[0]!), created: true };
    });
  }

  /** Leases up to `limit` due jobs (running, or paused for a cause that resolves by itself) whose lease is free or lapsed. */
  async leaseDue(instanceId: string, leaseMs: number, limit: number): Promise<RewrapJob[]> {
    const rows = await this.db.query<Row>(
      `UPDATE rewrap_job j SET leased_by = $1, lease_until = now() + make_interval(secs => $2::float8 / 1000), updated_at = now()
         FROM (SELECT id FROM rewrap_job WHERE state IN ('running', 'paused') AND next_run_at <= now()
                 AND (lease_until IS NULL OR lease_until < now() OR leased_by = $1)
               ORDER BY next_run_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
        WHERE j.id = due.id
        RETURNING ${COLUMNS.split(", ").map((c) => `j.${c.trim()}`).join(", ")}`,
      [instanceId, leaseMs, limit],
    );
    return rows.map(toJob);
  }

  /** Records a batch and renews the lease; false when this instance no longer holds it (stop working). */
  async recordBatch(job: RewrapJob, instanceId: string, leaseMs: number, delta: { done: number; failed: number; kmsCalls: number; cursor: string | null }): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(
      `UPDATE rewrap_job SET done = done + $3, failed = failed + $4, kms_calls = kms_calls + $5, cursor = $6,
              state = CASE WHEN $3 + $4 > 0 THEN 'running' ELSE state END, pause_cause = CASE WHEN $3 + $4 > 0 THEN NULL ELSE pause_cause END,
              consecutive_failures = CASE WHEN $3 + $4 > 0 THEN 0 ELSE consecutive_failures END, lease_until = now() + make_interval(secs => $7::float8 / 1000), updated_at = now()
        WHERE id = $1 AND leased_by = $2 AND state IN ('running', 'paused') RETURNING ${COLUMNS}`,
      [job.id, instanceId, delta.done, delta.failed, delta.kmsCalls, delta.cursor, leaseMs],
    );
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Points the job at the tenant's newest key and version and restarts its pass (a switch or rotation mid-job). */
  async retarget(job: RewrapJob, instanceId: string, connectionId: string, version: string | null, stillStale: number): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(
      `UPDATE rewrap_job SET target_connection_id = $3, target_version = $4, cursor = NULL, total = done + failed + $5, updated_at = now()
        WHERE id = $1 AND leased_by = $2 AND state IN ('running', 'paused') RETURNING ${COLUMNS}`,
      [job.id, instanceId, connectionId, version, stillStale],
    );
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Starts the pass over from the first DEK (stale DEKs appeared behind the cursor); failures are counted afresh. */
  async restartPass(job: RewrapJob, instanceId: string, stillStale: number): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(
      `UPDATE rewrap_job SET cursor = NULL, failed = 0, total = done + $3, updated_at = now()
        WHERE id = $1 AND leased_by = $2 AND state IN ('running', 'paused') RETURNING ${COLUMNS}`,
      [job.id, instanceId, stillStale],
    );
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Pauses (keeping the lease free for whoever runs it next) and schedules the next attempt. */
  async pause(job: RewrapJob, instanceId: string, cause: string, retryInMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE rewrap_job SET state = 'paused', pause_cause = $3, consecutive_failures = consecutive_failures + 1,
              next_run_at = now() + make_interval(secs => $4::float8 / 1000), leased_by = NULL, lease_until = NULL, updated_at = now()
        WHERE id = $1 AND leased_by = $2 AND state IN ('running', 'paused') RETURNING id`,
      [job.id, instanceId, cause, retryInMs],
    );
    return rows.length > 0;
  }

  /** Gives the lease back after a pass that did not finish (e.g. the instance is stopping). */
  async release(job: RewrapJob, instanceId: string): Promise<void> {
    await this.db.query(`UPDATE rewrap_job SET leased_by = NULL, lease_until = NULL WHERE id = $1 AND leased_by = $2`, [job.id, instanceId]);
  }

  async complete(job: RewrapJob, instanceId: string): Promise<RewrapJob | null> {
    const rows = await this.db.query<Row>(
      `UPDATE rewrap_job SET state = 'completed', pause_cause = NULL, finished_at = now(), leased_by = NULL, lease_until = NULL, updated_at = now()
        WHERE id = $1 AND leased_by = $2 AND state IN ('running', 'paused') RETURNING ${COLUMNS}`,
      [job.id, instanceId],
    );
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Cancels the open job (whoever holds its lease notices at its next batch). */
  async cancel(db: SqlExecutor, tenantId: string): Promise<RewrapJob | null> {
    const rows = await db.query<Row>(
      `UPDATE rewrap_job SET state = 'cancelled', finished_at = now(), leased_by = NULL, lease_until = NULL, updated_at = now()
        WHERE tenant_id = $1 AND state IN ('running', 'paused') RETURNING ${COLUMNS}`,
      [tenantId],
    );
    return rows[0] ? toJob(rows[0]) : null;
  }

  /** Restarts the open job's pass from the beginning now (a resolved pause, or a new key seen mid-job). */
  async wake(tenantId: string): Promise<void> {
    await this.db.query(`UPDATE rewrap_job SET next_run_at = now() WHERE tenant_id = $1 AND state IN ('running', 'paused')`, [tenantId]);
  }
}
