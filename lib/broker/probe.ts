// One probe of a tenant's key: unwrap the canary the broker wrapped at validation. It needs
// exactly the permission the data path needs, so a revoked answer here is a revocation (and
// the gateway locks the tenant); a success on a tenant the KMS had locked resumes it, after a
// full wrap + unwrap re-validation, unless the tenant chose manual resume.
import { isKmsError } from "../kms/types";
import type { AuditActor } from "../audit/types";
import type { Database } from "../db/database";
import type { BackgroundErrors } from "../observability/background-errors";
import type { KmsGateway } from "./kms-gateway";
import type { TenantLockService } from "./tenant-lock";
import type { TenantRegistry } from "./tenant-registry";
import { canaryContext, validateKeyRoundTrip } from "./key-validation";
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
const VERSION_LEVEL_REASONS = new Set(["disabled", "destroyed", "pending_deletion"]);

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
    // Rotation first (AWS, Azure: a metadata read), so that a new version is probed through a
    // canary of its own even if the tenant has already disabled the old one.
    if (!broker.kms.checksVersionOnUnwrap(key.provider)) {
      kmsCalls++;
      const current = await broker.rotation.currentVersion(tenant.id, key);
      if (current && current !== key.keyVersion) {
        kmsCalls++;
        canaryWrapped = (await broker.rotation.recordCurrent(tenant, key, trigger, { lockOnRevoked, revokedAt: opts.revokedAt })) ?? canaryWrapped;
      }
    }
    // Azure and GCP can disable one version: the canary's own may be the one disabled (after a
    // rotation the probe has not seen yet), which is not a revocation while the current version
    // works. So there a refusal is confirmed before it locks: a version-level one by a wrap under
    // the current version and an unwrap of that canary, any other by asking again.
    const perVersion = key.provider !== "aws";
    let canary;
    try {
      canary = await broker.kms.unwrapCanary(ref, canaryWrapped, canaryContext(tenant.id), { ...meta, lockOnRevoked: lockOnRevoked && !perVersion });
    } catch (e) {
      if (!(perVersion && isKmsError(e) && e.kind === "revoked")) throw e;
      kmsCalls++;
      if (VERSION_LEVEL_REASONS.has(e.reason ?? "")) {
        kmsCalls++;
        canaryWrapped = (await broker.rotation.recordCurrent(tenant, key, trigger, { lockOnRevoked, revokedAt: opts.revokedAt })) ?? canaryWrapped;
      }
      canary = await broker.kms.unwrapCanary(ref, canaryWrapped, canaryContext(tenant.id), { ...meta, lockOnRevoked });
    }
    canary.plaintext.fill(0);
    if (canary.usedCurrentVersion === false) {
      // GCP: the canary's version is no longer primary.
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
  if (outcome === "success" && tenant.state === "locked" && tenant.lockSource === "kms" && !tenant.manualResume) {
    const check = await validateKeyRoundTrip(broker.kms, tenant.id, ref, PROBE_ACTOR, { lockOnRevoked: false });
    if (check.ok) {
      await broker.locks.markActive(tenant, "probe", PROBE_ACTOR);
      return { tenantId: tenant.id, outcome: "resumed", latencyMs, kmsCalls: 3 };
    }
    return { tenantId: tenant.id, outcome, latencyMs, reason, kmsCalls: 3 };
  }
  return { tenantId: tenant.id, outcome, latencyMs, reason, retryAfterSeconds, kmsCalls, ...(vendorFault ? { vendorFault } : {}) };
}
