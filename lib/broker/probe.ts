// One probe of a tenant's key: unwrap the canary the broker wrapped at validation. It needs
// exactly the permission the data path needs, so a revoked answer here is a revocation (and
// the gateway locks the tenant); a success on a tenant the KMS had locked resumes it, after a
// full wrap + unwrap re-validation, unless the tenant chose manual resume.
import { isKmsError, type RevocationReason } from "../kms/types";
import type { AuditActor } from "../audit/types";
import type { Database } from "../db/database";
import type { BackgroundErrors } from "../observability/background-errors";
import type { KmsGateway } from "./kms-gateway";
import type { TenantLockService } from "./tenant-lock";
import type { TenantRegistry } from "./tenant-registry";
import { canaryContext, validateKeyRoundTrip } from "./key-validation";
import { RETIRING_KEY_REVOKED } from "./lifecycle/stale-deks";
import type { TenantView } from "./tenant-registry";
import type { KeyRotationRecorder, RotationTrigger } from "./key-rotation";

export type ProbeOutcome = "success" | "revoked" | "unavailable" | "invalid" | "skipped" | "resumed";

export interface ProbeResult {
  tenantId: string;
  outcome: ProbeOutcome;
  latencyMs: number;
  reason?: string;
  /** Server-suggested delay on an unavailable answer (throttling); the prober waits at least this long. */
  retryAfterSeconds?: number;
  /** KMS calls this probe made: 1, or 3 when it resumed the tenant (canary unwrap + wrap/unwrap re-validation). */
  kmsCalls?: number;
  /** The probe failed on the broker's own credentials (lib/broker/vendor-faults.ts), not on the key. */
  vendorFault?: string;
}

/** Only what a probe uses: fresh tenant reads, the KMS gateway, the lock state machine, the database. */
export interface ProbeDeps {
  registry: TenantRegistry;
  kms: KmsGateway;
  locks: TenantLockService;
  db: Database;
  backgroundErrors: BackgroundErrors;
  rotation: KeyRotationRecorder;
}

export interface ProbeOptions {
  revokedAt?: Date;
  /** What asked for this probe: the schedule, or a pushed key event (recorded on a rotation it finds). */
  trigger?: RotationTrigger;
}

/** Revocation reasons a single disabled or destroyed old version gives (Azure, GCP): the current version may still work. */
const VERSION_LEVEL_REASONS: readonly RevocationReason[] = ["disabled", "destroyed", "pending_deletion"];

const PROBE_ACTOR: AuditActor = { type: "system", name: "prober" };

export async function probeTenantKey(broker: ProbeDeps, tenantIn: TenantView, opts: ProbeOptions = {}): Promise<ProbeResult> {
  // Probe against fresh state: another instance may have locked or resumed the tenant.
  const tenant = (await broker.registry.load({ id: tenantIn.id })) ?? tenantIn;
  const key = tenant.key;
  const started = performance.now();
  if (!key || !key.canaryWrapped) return { tenantId: tenant.id, outcome: "skipped", latencyMs: 0, reason: "no connected key" };
  const ref = { provider: key.provider, keyRef: key.keyRef };
  const trigger = opts.trigger ?? "probe";
  // A kill-switch or drill lock is already in force; a revoked answer then changes nothing.
  const lockOnRevoked = tenant.state !== "locked" || tenant.lockSource === "kms";
  let outcome: ProbeOutcome = "success";
  let reason: string | undefined;
  let retryAfterSeconds: number | undefined;
  let vendorFault: string | undefined;
  let kmsCalls = 1;
  let canaryWrapped = key.canaryWrapped;
  const meta = { tenantId: tenant.id, actor: PROBE_ACTOR, action: "kms.probe" as const, revokedAt: opts.revokedAt };
  try {
    // The rotation check (AWS, Azure: a metadata read that never locks) runs beside the canary
    // unwrap, so it adds no time to detecting a revocation.
    const versionCheck = broker.kms.checksVersionOnUnwrap(key.provider) ? Promise.resolve(null) : broker.rotation.currentVersion(tenant.id, key);
    if (!broker.kms.checksVersionOnUnwrap(key.provider)) kmsCalls++;
    // Azure and GCP can disable one version: the canary's own may be the one disabled (after a
    // rotation the probe has not seen yet), which is not a revocation while the current version
    // works. Such a refusal is confirmed before it locks: a wrap under the current version (which
    // locks if refused) and an unwrap of that new canary.
    let canary;
    let recorded = false;
    try {
      canary = await broker.kms.unwrapCanary(ref, canaryWrapped, canaryContext(tenant.id), { ...meta, lockOnRevoked, ...(key.provider !== "aws" ? { deferLockFor: VERSION_LEVEL_REASONS } : {}) });
    } catch (e) {
      if (!(key.provider !== "aws" && isKmsError(e) && e.kind === "revoked" && VERSION_LEVEL_REASONS.includes(e.reason!))) throw e;
      kmsCalls += 2;
      recorded = true;
      canaryWrapped = (await broker.rotation.recordCurrent(tenant, key, trigger, { lockOnRevoked, revokedAt: opts.revokedAt })) ?? canaryWrapped;
      canary = await broker.kms.unwrapCanary(ref, canaryWrapped, canaryContext(tenant.id), { ...meta, lockOnRevoked });
    }
    canary.plaintext.fill(0);
    const current = await versionCheck;
    // AWS, Azure: the current version moved; GCP: the canary's version is no longer primary.
    if (!recorded && ((current && current !== key.keyVersion) || canary.usedCurrentVersion === false)) {
      kmsCalls++;
      await broker.rotation.recordCurrent(tenant, key, trigger, { lockOnRevoked, revokedAt: opts.revokedAt });
    }
  } catch (e) {
    outcome = isKmsError(e) ? e.kind : "unavailable";
    reason = isKmsError(e) ? (e.reason ?? e.detail.providerCode) : (e as Error).message;
    retryAfterSeconds = isKmsError(e) ? e.detail.retryAfterSeconds : undefined;
    vendorFault = isKmsError(e) ? e.detail.vendorFault : undefined;
  }
  const latencyMs = performance.now() - started;
  await broker.db.prisma.keyConnection
    .update({ where: { id: key.connectionId }, data: { lastProbeAt: new Date(), lastProbeOutcome: outcome, lastProbeLatencyMs: Math.round(latencyMs), lastError: reason ?? null } })
    .catch((e: unknown) => broker.backgroundErrors.report("probe.record", e));
  // A lock because a key the tenant is leaving was revoked is lifted by the re-wrap job once that
  // key answers again (lib/broker/lifecycle/rewrap-pass.ts), not because the connected key works.
  const resumable = tenant.lockReason !== RETIRING_KEY_REVOKED;
  if (outcome === "success" && tenant.state === "locked" && tenant.lockSource === "kms" && !tenant.manualResume && resumable) {
    const check = await validateKeyRoundTrip(broker.kms, tenant.id, ref, PROBE_ACTOR, { lockOnRevoked: false });
    if (check.ok) {
      await broker.locks.markActive(tenant, "probe", PROBE_ACTOR);
      return { tenantId: tenant.id, outcome: "resumed", latencyMs, kmsCalls: 3 };
    }
    return { tenantId: tenant.id, outcome, latencyMs, reason, kmsCalls: 3 };
  }
  return { tenantId: tenant.id, outcome, latencyMs, reason, retryAfterSeconds, kmsCalls, ...(vendorFault ? { vendorFault } : {}) };
}
