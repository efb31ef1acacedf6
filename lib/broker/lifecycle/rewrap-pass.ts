// One leased pass over a re-wrap job: check the tenant and its retiring keys, then re-wrap stale
// DEKs batch by batch under the rate limits until none are left (complete), the KMS refuses or
// is unreachable (pause), or the lease is lost or the job cancelled (stop).
//   - revoked: the gateway has already locked the tenant through lock-on-revocation (reason
//     retiring_key_revoked when the refusing key is one the tenant is leaving); the job pauses
//     and resumes once the tenant is active again;
//   - unavailable or throttled: the job pauses without locking and retries with exponential
//     backoff (at least what the KMS asked for);
//   - invalid (a DEK whose wrapped form the KMS rejects): counted as failed; it keeps its form.
import type { AuditActor, AuditSink } from "../../audit/types";
import type { Database } from "../../db/database";
import type { KmsError } from "../../kms/types";
import type { KmsGateway } from "../kms-gateway";
import type { TenantLockService } from "../tenant-lock";
import { allClasses, type TenantRegistry, type TenantView } from "../tenant-registry";
import { runRewrapBatch } from "./batch-loop";
import type { RewrapJob, RewrapJobStore } from "./job-store";
import type { RewrapRateLimiter } from "./rate-limiter";
import type { RewrapMetrics } from "./rewrap-metrics";
import { callsPerDek, rewrapOne } from "./rewrap-one";
import { probeRetiringKeys } from "./retiring-keys";
import { countStale, nextStale, RETIRING_KEY_REVOKED, retireUnusedConnections } from "./stale-deks";

export interface PassDeps {
  db: Database;
  kms: KmsGateway;
  registry: TenantRegistry;
  locks: TenantLockService;
  audit: AuditSink;
  store: RewrapJobStore;
  limiter: RewrapRateLimiter;
  metrics: RewrapMetrics;
  instanceId: string;
  signal: AbortSignal;
}

export interface PassOptions {
  leaseMs: number;
  batchSize: number;
  reencrypt: boolean;
  actor: AuditActor;
}

const MAX_BACKOFF_MS = 60_000;

export function backoffMs(job: RewrapJob, err?: KmsError): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(job.consecutiveFailures, 7));
  return Math.max(base, (err?.detail.retryAfterSeconds ?? 0) * 1000);
}

export function isThrottling(err: KmsError): boolean {
  return /thrott|too ?many|429|RESOURCE_EXHAUSTED|^8$|rate/i.test(err.detail.providerCode ?? "") || /thrott|rate exceeded|too many/i.test(err.message);
}

export async function pause(deps: PassDeps, opts: PassOptions, job: RewrapJob, cause: string, retryInMs: number): Promise<void> {
  if (!(await deps.store.pause(job, deps.instanceId, cause, retryInMs))) return;
  deps.metrics.pauses.inc({ cause });
  // One entry per change of cause, not one per retry of the same pause.
  if (job.state !== "paused" || job.pauseCause !== cause) {
    await deps.audit.record({ tenantId: job.tenantId, actor: opts.actor, action: "rewrap.pause", outcome: cause === "kms_unavailable" || cause === "kms_throttled" ? "unavailable" : "denied", reason: cause, detail: { jobId: job.id, cause } });
  }
}

/** Resumes a tenant locked because a retiring key was revoked, once every retiring key answers again (unless manual resume). */
async function resumeIfRetiringKeysBack(deps: PassDeps, opts: PassOptions, tenant: TenantView): Promise<TenantView> {
  if (tenant.state !== "locked" || tenant.lockReason !== RETIRING_KEY_REVOKED || tenant.manualResume) return tenant;
  const failure = await probeRetiringKeys(deps, tenant.id, opts.actor, { lockOnRevoked: false });
  if (failure) return tenant;
  return deps.locks.markActive(tenant, "probe", opts.actor, undefined, "kms");
}

export async function runPass(deps: PassDeps, opts: PassOptions, leased: RewrapJob): Promise<void> {
  let job = leased;
  let tenant = await deps.registry.load({ id: job.tenantId });
  if (!tenant) return;
  tenant = await resumeIfRetiringKeysBack(deps, opts, tenant);
  if (tenant.state !== "active" || !tenant.key) return pause(deps, opts, job, tenant.lockReason === RETIRING_KEY_REVOKED ? RETIRING_KEY_REVOKED : "tenant_locked", backoffMs(job));
  // A retiring key that refuses now locks the tenant (while DEKs depend on it) before any batch.
  const probeFailure = await probeRetiringKeys(deps, tenant.id, opts.actor, { lockOnRevoked: true });
  if (probeFailure) {
    const fresh = await deps.registry.load({ id: tenant.id });
    if (probeFailure.kind === "unavailable") return pause(deps, opts, job, isThrottling(probeFailure) ? "kms_throttled" : "kms_unavailable", backoffMs(job, probeFailure));
    if (fresh?.state === "locked") return pause(deps, opts, job, fresh.lockReason === RETIRING_KEY_REVOKED ? RETIRING_KEY_REVOKED : "revoked", backoffMs(job));
  }
  // Each DEK goes to the primary of its own class (nextStale names it); the job records one target,
  // the key whose switch or rotation started it. When that key is no longer a connected primary, or
  // rotated meanwhile, the same job moves everything to the newest keys.
  const targetKey = allClasses(tenant).find((c) => c.scope.key?.connectionId === job.targetConnectionId)?.scope.key ?? tenant.key;
  if (targetKey.connectionId !== job.targetConnectionId || targetKey.keyVersion !== job.targetVersion) {
    job = (await deps.store.retarget(job, deps.instanceId, targetKey.connectionId, targetKey.keyVersion, await countStale(deps.db, tenant.id))) ?? job;
  }
  // One extra round per pass at most: a DEK that stays stale after its swap (a provider reporting
  // another version format than the connection records) must not make the pass loop forever.
  let restarted = false;
  while (!deps.signal.aborted) {
    const batch = await nextStale(deps.db, tenant.id, job.cursor, opts.batchSize);
    if (batch.length === 0) {
      // A DEK moved behind the cursor meanwhile (e.g. by a job cancelled mid-batch elsewhere):
      // go over the tenant once more. DEKs the KMS rejected stay stale; they do not count.
      const stillStale = job.cursor !== null && !restarted ? await countStale(deps.db, tenant.id) : 0;
      if (stillStale > job.failed) {
        restarted = true;
        const again = await deps.store.restartPass(job, deps.instanceId, stillStale);
        if (!again) return;
        job = again;
        continue;
      }
      await retireUnusedConnections(deps.db, tenant.id);
      const done = await deps.store.complete(job, deps.instanceId);
      if (!done) return;
      deps.metrics.jobs.inc({ event: "completed" });
      await deps.audit.record({ tenantId: tenant.id, actor: opts.actor, action: "rewrap.finish", outcome: done.failed > 0 ? "error" : "success", detail: { jobId: done.id, rewrapped: done.done, failed: done.failed, done: done.done + done.failed, total: done.total } });
      return;
    }
    const { swapped: rewrapped, failed, kmsCalls: calls, cursor, stop, classLocked } = await runRewrapBatch(deps, tenant, batch, job.cursor, {
      provider: (dek) => dek.target.provider,
      callsPerDek: (dek) => callsPerDek(dek.fromProvider, dek.target.provider, opts.reencrypt),
      run: (dek) => {
        const target = { connectionId: dek.target.connectionId, key: { provider: dek.target.provider, keyRef: dek.target.keyRef, dataClassId: dek.dataClassId } };
        return rewrapOne(deps, tenant.id, dek, target, opts.actor, opts.reencrypt);
      },
    });
    const recorded = await deps.store.recordBatch(job, deps.instanceId, opts.leaseMs, { done: rewrapped, failed, kmsCalls: calls, cursor });
    if (!recorded) return; // cancelled, or the lease went to another instance
    if (rewrapped + failed > 0) {
      await deps.audit.record({ tenantId: tenant.id, actor: opts.actor, action: "rewrap.batch", outcome: "success", detail: { jobId: job.id, rewrapped, failed, done: recorded.done + recorded.failed, total: recorded.total } });
    }
    job = recorded;
    if (classLocked) return pause(deps, opts, job, "tenant_locked", backoffMs(job));
    if (stop) {
      if (stop.kind === "unavailable") return pause(deps, opts, job, isThrottling(stop) ? "kms_throttled" : "kms_unavailable", backoffMs(job, stop));
      const fresh = await deps.registry.load({ id: tenant.id });
      return pause(deps, opts, job, fresh?.lockReason === RETIRING_KEY_REVOKED ? RETIRING_KEY_REVOKED : "revoked", backoffMs(job));
    }
  }
  await deps.store.release(job, deps.instanceId);
}
