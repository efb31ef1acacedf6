// The re-wrap scheduler of one instance. Every sweep it (1) starts a job for each active tenant
// that has stale DEKs (lib/broker/lifecycle/stale-deks.ts) and never had a job for its current
// key and version, and (2) leases due jobs and works them batch by batch (rewrap-pass.ts).
// State lives in PostgreSQL, so a job survives the death of the instance working it: the lease
// lapses and another instance resumes from the cursor.
import type { AuditActor, AuditSink } from "../../audit/types";
import type { Database, SqlExecutor } from "../../db/database";
import type { BackgroundErrors } from "../../observability/background-errors";
import type { KmsGateway } from "../kms-gateway";
import type { KmsMetrics } from "../metrics";
import type { TenantLockService } from "../tenant-lock";
import type { TenantRegistry } from "../tenant-registry";
import { RewrapJobStore, type JobCause, type RewrapJob, type StartOptions } from "./job-store";
import { RewrapRateLimiter } from "./rate-limiter";
import { runPass } from "./rewrap-pass";
import { countMissingSecondary } from "./secondary-forms";
import { runSecondaryPass } from "./secondary-pass";
import { RewrapMetrics } from "./rewrap-metrics";
import { CONNECTED_JOIN, countStale, STALE_SQL } from "./stale-deks";

export const REWRAP_ACTOR: AuditActor = { type: "system", name: "rewrap" };

export interface RewrapWorkerDeps {
  db: Database;
  kms: KmsGateway;
  registry: TenantRegistry;
  locks: TenantLockService;
  audit: AuditSink;
  metrics: KmsMetrics;
  backgroundErrors: BackgroundErrors;
  instanceId: string;
}

export interface RewrapWorkerOptions {
  sweepMs: number;
  leaseMs: number;
  batchSize: number;
  /** KMS calls per second per tenant / per provider on this instance; 0: unlimited. */
  tenantCallsPerSecond: number;
  providerCallsPerSecond: number;
  /** Jobs this instance works at once. */
  concurrency: number;
  /** Use AWS ReEncrypt where it applies (default true). */
  reencrypt?: boolean;
}

export class RewrapWorker {
  readonly store: RewrapJobStore;
  readonly limiter: RewrapRateLimiter;
  readonly metrics: RewrapMetrics;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> | null = null;
  private readonly working = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: RewrapWorkerDeps,
    readonly opts: RewrapWorkerOptions,
  ) {
    this.store = new RewrapJobStore(deps.db);
    this.limiter = new RewrapRateLimiter(opts.tenantCallsPerSecond, opts.providerCallsPerSecond);
    this.metrics = new RewrapMetrics(deps.metrics.registry, () => this.working.size);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.ticking;
    await Promise.allSettled([...this.working.values()]);
  }

  /** Runs a sweep soon (a job was just started or woken by an operation). */
  kick(): void {
    if (!this.running || this.ticking) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  /** Opens a job for the tenant (or returns the open one) and audits its start. */
  async startJob(tenantId: string, cause: JobCause, actor: AuditActor, requestId?: string, opts: StartOptions = {}): Promise<{ job: RewrapJob | null; created: boolean }> {
    const r = await this.store.start(tenantId, cause, (tx) => countStale(tx, tenantId), opts);
    if (r.created && r.job) await this.started(r.job, actor, requestId);
    return r;
  }

  /** Opens an add_secondary job for a class's secondary connection (or returns the tenant's open job) and audits its start. */
  async startSecondaryJob(tenantId: string, connectionId: string, actor: AuditActor, requestId?: string): Promise<{ job: RewrapJob | null; created: boolean }> {
    const r = await this.store.startSecondary(tenantId, connectionId, (tx) => countMissingSecondary(tx, tenantId, connectionId));
    if (r.created && r.job) await this.started(r.job, actor, requestId);
    return r;
  }

  /** Opens a job inside the caller's transaction; call started() after it commits. */
  startJobIn(tx: SqlExecutor, tenantId: string, cause: JobCause) {
    return this.store.startIn(tx, tenantId, cause, (db) => countStale(db, tenantId));
  }

  /** Audits a job's start and looks for work at once. */
  async started(job: RewrapJob, actor: AuditActor, requestId?: string): Promise<void> {
    this.metrics.jobs.inc({ event: "started" });
    await this.deps.audit.record({ tenantId: job.tenantId, actor, action: "rewrap.start", outcome: "success", requestId, detail: { jobId: job.id, cause: job.cause, total: job.total } });
    this.kick();
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick()
        .catch((e: unknown) => this.deps.backgroundErrors.report("rewrap.tick", e))
        .finally(() => {
          this.ticking = null;
          this.schedule(this.opts.sweepMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One sweep: start jobs where DEKs went stale, then lease and work due jobs up to the concurrency. */
  async tick(): Promise<void> {
    await this.startDueJobs();
    const room = this.opts.concurrency - this.working.size;
    if (room <= 0 || !this.running) return;
    for (const job of await this.store.leaseDue(this.deps.instanceId, this.opts.leaseMs, room)) {
      if (this.working.has(job.id)) continue;
      const p = this.deps.backgroundErrors.guard("rewrap.job", () => this.work(job)).finally(() => this.working.delete(job.id));
      this.working.set(job.id, p);
    }
  }

  private async work(job: RewrapJob): Promise<void> {
    await (job.cause === "add_secondary" ? runSecondaryPass : runPass)(
      { ...this.deps, store: this.store, limiter: this.limiter, metrics: this.metrics, signal: this.abort.signal },
      { leaseMs: this.opts.leaseMs, batchSize: this.opts.batchSize, reencrypt: this.opts.reencrypt !== false, actor: REWRAP_ACTOR },
      job,
    );
  }

  /** Tenants with stale DEKs, active, with no open job and none yet for their current key and version. */
  private async startDueJobs(): Promise<void> {
    // Per class: each connected primary `k` whose class has stale DEKs and an active lock scope.
    const rows = await this.deps.db.query<{ tenant_id: string; id: string; switched: boolean }>(
      `SELECT k.tenant_id, k.id,
              EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = k.tenant_id AND d.data_class_id IS NOT DISTINCT FROM k.data_class_id AND d.key_connection_id <> k.id) AS switched
         FROM key_connection k JOIN tenant t ON t.id = k.tenant_id AND t.state = 'active'
         LEFT JOIN data_class dc ON dc.id = k.data_class_id
        WHERE k.status = 'connected' AND k.role = 'primary' AND (k.data_class_id IS NULL OR dc.state = 'active')
          AND NOT EXISTS (SELECT 1 FROM rewrap_job j WHERE j.tenant_id = k.tenant_id AND (j.state IN ('running', 'paused')
                 OR (j.target_connection_id = k.id AND j.target_version IS NOT DISTINCT FROM k.key_version)))
          AND EXISTS (SELECT 1 FROM data_key d ${CONNECTED_JOIN} WHERE d.tenant_id = k.tenant_id AND c.id = k.id AND ${STALE_SQL})
        LIMIT 50`,
    );
    for (const r of rows) {
      await this.startJob(r.tenant_id, r.switched ? "key_switch" : "rotation", REWRAP_ACTOR, undefined, { onlyIfNewTarget: true, targetConnectionId: r.id });
    }
    await this.startDueSecondaryJobs();
  }

  /**
   * Secondary connections whose class has DEKs without a form under them (created while the
   * secondary was unavailable, or an interrupted job), on active tenants with no open job. A target
   * whose last job left DEKs failed (rejected by the KMS) is retried at most once a minute; one whose
   * job the tenant cancelled is left alone (new DEKs still get both forms at creation).
   */
  private async startDueSecondaryJobs(): Promise<void> {
    const rows = await this.deps.db.query<{ tenant_id: string; id: string }>(
      `SELECT s.tenant_id, s.id FROM key_connection s JOIN tenant t ON t.id = s.tenant_id AND t.state = 'active'
        WHERE s.status = 'connected' AND s.role = 'secondary'
          AND NOT EXISTS (SELECT 1 FROM rewrap_job j WHERE j.tenant_id = s.tenant_id AND (j.state IN ('running', 'paused')
                 OR (j.target_connection_id = s.id AND j.state = 'cancelled')
                 OR (j.target_connection_id = s.id AND j.failed > 0 AND j.finished_at > now() - interval '1 minute')))
          AND EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = s.tenant_id AND d.data_class_id IS NOT DISTINCT FROM s.data_class_id
                 AND NOT EXISTS (SELECT 1 FROM data_key_wrap w WHERE w.dek_id = d.id AND w.key_connection_id = s.id))
        LIMIT 50`,
    );
    for (const r of rows) await this.startSecondaryJob(r.tenant_id, r.id, REWRAP_ACTOR);
  }
}
