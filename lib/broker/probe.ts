// One probe of a key of a tenant (the primary of one data class, `default` unless a connection is
// named): unwrap the canary the broker wrapped at validation. It needs exactly the permission the
// data path needs, so a revoked answer here is a revocation (and the gateway locks that class);
// a success on a class the KMS had locked resumes that class, after a full wrap + unwrap
// re-validation, unless the tenant chose manual resume (which applies to every class). A class
// locked by the kill switch or a drill waits for its explicit unlock.
import { isKmsError, type RevocationReason } from "../kms/types";
import type { AuditActor } from "../audit/types";
import type { Database } from "../db/database";
import type { BackgroundErrors } from "../observability/background-errors";
import type { KmsGateway } from "./kms-gateway";
import type { TenantLockService } from "./tenant-lock";
import type { TenantRegistry } from "./tenant-registry";
import { canaryContext, validateKeyRoundTrip } from "./key-validation";
import { RETIRING_KEY_REVOKED } from "./lifecycle/stale-deks";
import { allClasses, type ClassRef, type ConnectedKey, type TenantView } from "./tenant-registry";
import type { KeyRotationRecorder, RotationTrigger } from "./key-rotation";

export type ProbeOutcome = "success" | "revoked" | "unavailable" | "invalid" | "skipped" | "resumed";

export interface ProbeResult {
  tenantId: string;
  /** The class whose key was probed (absent when nothing was). */
  dataClass?: string;
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
  /** The key connection to probe (any class's key); absent: the `default` class's primary. */
  connectionId?: string;
}

/** The class and key a probe is about: the named connection's, or the default class's primary. */
export function probeTarget(tenant: TenantView, connectionId?: string): { cls: ClassRef; key: ConnectedKey } | null {
  for (const cls of allClasses(tenant)) {
    const { key, secondary } = cls.scope;
    if (connectionId === undefined) return key ? { cls, key } : null;
    if (key?.connectionId === connectionId) return { cls, key };
    if (secondary?.connectionId === connectionId) return { cls, key: secondary };
  }
  return null;
}

/** Revocation reasons a single disabled or destroyed old version gives (Azure, GCP): the current version may still work. */
const VERSION_LEVEL_REASONS: readonly RevocationReason[] = ["disabled", "destroyed", "pending_deletion"];

const PROBE_ACTOR: AuditActor = { type: "system", name: "prober" };

export async function probeTenantKey(broker: ProbeDeps, tenantIn: TenantView, opts: ProbeOptions = {}): Promise<ProbeResult> {
  // Probe against fresh state: another instance may have locked or resumed the tenant.
  const tenant = (await broker.registry.load({ id: tenantIn.id })) ?? tenantIn;
  const target = probeTarget(tenant, opts.connectionId);
  const started = performance.now();
  if (!target || !target.key.canaryWrapped) return { tenantId: tenant.id, outcome: "skipped", latencyMs: 0, reason: "no connected key" };
  const { cls, key } = target;
  const scope = cls.scope;
  const dataClass = cls.name;
  const ref = { provider: key.provider, keyRef: key.keyRef, dataClassId: cls.id };
  const trigger = opts.trigger ?? "probe";
  // A kill-switch or drill lock is already in force; a revoked answer then changes nothing.
  const lockOnRevoked = scope.state !== "locked" || scope.lockSource === "kms";
  let outcome: ProbeOutcome = "success";
  let reason: string | undefined;
  let retryAfterSeconds: number | undefined;
  let vendorFault: string | undefined;
  let kmsCalls = 1;
  let canaryWrapped: Buffer = target.key.canaryWrapped;
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
  // A lock because a key the class is leaving was revoked is lifted by the re-wrap job once that
  // key answers again (lib/broker/lifecycle/rewrap-pass.ts), not because the connected key works.
  const resumable = scope.lockReason !== RETIRING_KEY_REVOKED;
  if (outcome === "success" && scope.state === "locked" && scope.lockSource === "kms" && !tenant.manualResume && resumable && scope.key) {
    const primary = { provider: scope.key.provider, keyRef: scope.key.keyRef, dataClassId: cls.id };
    let check = await validateKeyRoundTrip(broker.kms, tenant.id, primary, PROBE_ACTOR, { lockOnRevoked: false });
    // A revocation of either key locks the class (issue 12), so both must work before it resumes:
    // otherwise a class whose secondary stays revoked would resume on its primary's probe and lock
    // again on the secondary's, over and over.
    if (check.ok && scope.secondary) {
      const secondary = { provider: scope.secondary.provider, keyRef: scope.secondary.keyRef, dataClassId: cls.id };
      check = await validateKeyRoundTrip(broker.kms, tenant.id, secondary, PROBE_ACTOR, { lockOnRevoked: false });
    }
    if (check.ok) {
      // Only a KMS-caused lock is lifted: a kill switch set meanwhile stays.
      await broker.locks.markActive(tenant, "probe", PROBE_ACTOR, undefined, "kms", dataClass);
      return { tenantId: tenant.id, dataClass, outcome: "resumed", latencyMs, kmsCalls: 3 };
    }
    return { tenantId: tenant.id, dataClass, outcome, latencyMs, reason, kmsCalls: 3 };
  }
  return { tenantId: tenant.id, dataClass, outcome, latencyMs, reason, retryAfterSeconds, kmsCalls, ...(vendorFault ? { vendorFault } : {}) };
}
