// One leased pass over an add_secondary job (issue 12): every DEK of the secondary's class that
// has no form under it gets one (rewrap-one.ts wrapUnderSecondary), batch by batch under the same
// rate limits as a re-wrap, with the same stop rules:
//   - unavailable or throttled (either key): pause without locking, retry with backoff;
//   - revoked (either key): the gateway has already locked the class; pause until it is active;
//   - invalid (a DEK the KMS rejects): counted as failed; the DEK keeps its primary form only;
//   - the class locked mid-job: pause (tenant_locked) until it is active, without asking its keys;
//   - the secondary was removed or replaced meanwhile: the job is cancelled.
import { classById } from "../tenant-registry";
import { runRewrapBatch } from "./batch-loop";
import type { RewrapJob } from "./job-store";
import { backoffMs, isThrottling, pause, type PassDeps, type PassOptions } from "./rewrap-pass";
import { wrapUnderSecondary } from "./rewrap-one";
import { countMissingSecondary, nextMissingSecondary } from "./secondary-forms";
import type { KmsProviderName } from "../../kms/types";

/** KMS calls per DEK: unwrap with the primary, wrap under the secondary, unwrap the new form. */
const CALLS_PER_DEK = 3;

export async function runSecondaryPass(deps: PassDeps, opts: PassOptions, leased: RewrapJob): Promise<void> {
  let job = leased;
  const tenant = await deps.registry.load({ id: job.tenantId });
  if (!tenant) return;
  const [conn] = await deps.db.query<{ id: string; provider: KmsProviderName; key_ref: string; data_class_id: string | null }>(
    `SELECT id, provider::text AS provider, key_ref, data_class_id FROM key_connection WHERE id = $1 AND tenant_id = $2 AND status = 'connected' AND role = 'secondary'`,
    [job.targetConnectionId, tenant.id],
  );
  const cls = conn ? classById(tenant, conn.data_class_id) : undefined;
  if (!conn || !cls) {
    const cancelled = await deps.store.cancel(deps.db, tenant.id);
    if (cancelled) await deps.audit.record({ tenantId: tenant.id, actor: opts.actor, action: "rewrap.cancel", outcome: "success", reason: "secondary_removed", detail: { jobId: job.id, returnJobId: null } });
    return;
  }
  const dataClass = cls.name;
  if (cls.scope.state !== "active" || !cls.scope.key) return pause(deps, opts, job, "tenant_locked", backoffMs(job));
  const target = { connectionId: conn.id, key: { provider: conn.provider, keyRef: conn.key_ref } };
  let restarted = false;
  while (!deps.signal.aborted) {
    const batch = await nextMissingSecondary(deps.db, tenant.id, conn.id, job.cursor, opts.batchSize);
    if (batch.length === 0) {
      // DEKs created behind the cursor while the secondary was unavailable: go over the class once more.
      const still = job.cursor !== null && !restarted ? await countMissingSecondary(deps.db, tenant.id, conn.id) : 0;
      if (still > job.failed) {
        restarted = true;
        const again = await deps.store.restartPass(job, deps.instanceId, still);
        if (!again) return;
        job = again;
        continue;
      }
      const done = await deps.store.complete(job, deps.instanceId);
      if (!done) return;
      deps.metrics.jobs.inc({ event: "completed" });
      await deps.audit.record({
        tenantId: tenant.id,
        actor: opts.actor,
        action: "rewrap.finish",
        outcome: done.failed > 0 ? "error" : "success",
        detail: { jobId: done.id, cause: done.cause, dataClass, rewrapped: done.done, failed: done.failed, done: done.done + done.failed, total: done.total },
      });
      return;
    }
    const { swapped: added, failed, kmsCalls: calls, cursor, stop, classLocked } = await runRewrapBatch(deps, tenant, batch, job.cursor, {
      provider: () => target.key.provider,
      callsPerDek: () => CALLS_PER_DEK,
      run: (dek) => wrapUnderSecondary(deps, tenant.id, dek, target, opts.actor),
    });
    const recorded = await deps.store.recordBatch(job, deps.instanceId, opts.leaseMs, { done: added, failed, kmsCalls: calls, cursor });
    if (!recorded) return;
    if (added + failed > 0) {
      await deps.audit.record({ tenantId: tenant.id, actor: opts.actor, action: "rewrap.batch", outcome: "success", detail: { jobId: job.id, cause: job.cause, dataClass, rewrapped: added, failed, done: recorded.done + recorded.failed, total: recorded.total } });
    }
    job = recorded;
    // The class locked mid-job (its primary or this secondary was revoked, or its kill switch):
    // wait for its unlock rather than ask its keys again.
    if (classLocked) return pause(deps, opts, job, "tenant_locked", backoffMs(job));
    if (stop) {
      if (stop.kind === "unavailable") return pause(deps, opts, job, isThrottling(stop) ? "kms_throttled" : "kms_unavailable", backoffMs(job, stop));
      return pause(deps, opts, job, "revoked", backoffMs(job));
    }
  }
  await deps.store.release(job, deps.instanceId);
}
