// The inner loop both leased passes share (re-wrap and add_secondary): one batch of DEKs, one DEK
// at a time under the rate limiter, until the batch is done or something says stop:
//   - the lease's abort signal (the instance is shutting down or lost the job);
//   - the DEK's class is locked: its keys are not asked again until it is unlocked (the caller
//     pauses the job with tenant_locked), whichever pass is running;
//   - a KMS refusal other than `invalid` (revoked or unavailable: the caller decides how to pause).
// An `invalid` refusal only counts the DEK as failed; it keeps the forms it has.
import type { KmsError, KmsProviderName } from "../../kms/types";
import { classById, type TenantRegistry, type TenantView } from "../tenant-registry";
import type { RewrapRateLimiter } from "./rate-limiter";
import type { RewrapMetrics } from "./rewrap-metrics";
import type { RewrapOutcome } from "./rewrap-one";

export interface BatchLoopDeps {
  registry: Pick<TenantRegistry, "getById">;
  limiter: RewrapRateLimiter;
  metrics: RewrapMetrics;
  signal: AbortSignal;
}

/** What a batch needs to know of a DEK: its id (the job's cursor) and its class (the lock scope). */
export interface BatchDek {
  id: string;
  dataClassId: string | null;
}

/** The pass-specific part: which provider a DEK's step calls, how many calls it costs, and the step itself. */
export interface RewrapStep<T extends BatchDek> {
  provider(dek: T): KmsProviderName;
  callsPerDek(dek: T): number;
  run(dek: T): Promise<RewrapOutcome>;
}

export interface BatchTally {
  /** DEKs whose new form this batch stored (a DEK another worker got to first is skipped, not counted). */
  swapped: number;
  failed: number;
  kmsCalls: number;
  /** The last DEK handled (swapped, skipped or failed): where the next batch starts. */
  cursor: string | null;
  /** The refusal that stopped the batch, if one did. */
  stop: KmsError | null;
  /** The batch stopped at a DEK whose class is not active. */
  classLocked: boolean;
}

/**
 * Whether the DEK's class is active in the view requests are served from now (lock notifications
 * update it in place), not the one the pass started with: the registry replaces its view on a
 * reload (a key connected, a request after an invalidation), and a lock applied to the new view
 * must stop the batch too.
 */
async function classActive(deps: BatchLoopDeps, tenant: TenantView, dek: BatchDek): Promise<boolean> {
  const current = (await deps.registry.getById(tenant.id)) ?? tenant;
  return classById(current, dek.dataClassId)?.scope.state === "active";
}

export async function runRewrapBatch<T extends BatchDek>(deps: BatchLoopDeps, tenant: TenantView, batch: readonly T[], cursor: string | null, step: RewrapStep<T>): Promise<BatchTally> {
  const tally: BatchTally = { swapped: 0, failed: 0, kmsCalls: 0, cursor, stop: null, classLocked: false };
  for (const dek of batch) {
    if (deps.signal.aborted) break;
    // Checked again after the rate limiter's wait, which can be long enough for a lock to land.
    if (!(await classActive(deps, tenant, dek))) {
      tally.classLocked = true;
      break;
    }
    const provider = step.provider(dek);
    await deps.limiter.acquire(tenant.id, provider, step.callsPerDek(dek), deps.signal);
    if (!(await classActive(deps, tenant, dek))) {
      tally.classLocked = true;
      break;
    }
    const r = await step.run(dek);
    tally.kmsCalls += r.kmsCalls;
    deps.metrics.kmsCalls.inc({ provider }, r.kmsCalls);
    if (r.ok) {
      if (r.swapped) tally.swapped++;
      deps.metrics.deks.inc({ outcome: r.swapped ? "rewrapped" : "skipped", method: r.method });
      tally.cursor = dek.id;
      continue;
    }
    if (r.error.kind === "invalid") {
      tally.failed++;
      deps.metrics.deks.inc({ outcome: "failed", method: "none" });
      tally.cursor = dek.id;
      continue;
    }
    tally.stop = r.error;
    break;
  }
  return tally;
}
