// Rotation detection. A probe learns the key's current version (AWS DescribeKey's
// CurrentKeyMaterialId, Azure the newest version behind the versionless URI, GCP the canary
// decrypt's used_primary) and, when it moved, this records it: a fresh canary is wrapped under
// the new version (so probes no longer depend on the old one, which the tenant may disable),
// key_connection.key_version and the canary are updated, and the tenant's active DEKs are
// retired on every instance so the next encryption makes a DEK under the new version. DEKs
// under older versions stay readable; re-wrapping them is the re-wrap engine's job.
import { randomBytes } from "node:crypto";
import { Counter } from "prom-client";
import type { AuditActor, AuditSink } from "../audit/types";
import type { Database } from "../db/database";
import type { KmsProviderName } from "../kms/types";
import type { BackgroundErrors } from "../observability/background-errors";
import type { ClusterBus } from "./cluster-bus";
import type { DataKeyService } from "./data-keys";
import type { KmsGateway } from "./kms-gateway";
import type { KmsMetrics } from "./metrics";
import { canaryContext } from "./key-validation";
import type { ConnectedKey, TenantRegistry, TenantView } from "./tenant-registry";

export type RotationTrigger = "probe" | "push";

export interface KeyRotationDeps {
  db: Database;
  kms: KmsGateway;
  audit: AuditSink;
  bus: Pick<ClusterBus, "publish">;
  keys: Pick<DataKeyService, "forgetTenant">;
  registry: Pick<TenantRegistry, "invalidate">;
  metrics: KmsMetrics;
  backgroundErrors: BackgroundErrors;
}

const ACTOR: AuditActor = { type: "system", name: "prober" };

/** Old-format values (AWS rows from before rotation support stored the key ARN) are "unknown", not a version to rotate from. */
export function isVersionFormat(provider: KmsProviderName, v: string | null): v is string {
  if (!v) return false;
  if (provider === "aws") return !v.startsWith("arn:");
  return true;
}

export class KeyRotationRecorder {
  private readonly rotations: Counter<"provider" | "detected_by">;

  constructor(private readonly deps: KeyRotationDeps) {
    this.rotations = new Counter({
      name: "cmek_key_rotations_total",
      help: "Key rotations the broker detected (new current version recorded), by provider and how",
      labelNames: ["provider", "detected_by"],
      registers: [deps.metrics.registry],
    });
  }

  /**
   * The key's current version by a metadata read (AWS, Azure), or null when it cannot be read.
   * Never locks: the canary unwrap is what decides revocation, and a tenant may well not grant
   * the read (it then only loses rotation detection by probe).
   */
  async currentVersion(tenantId: string, key: ConnectedKey): Promise<string | null> {
    try {
      const d = await this.deps.kms.describe({ provider: key.provider, keyRef: key.keyRef }, { tenantId, actor: ACTOR, action: "kms.describe", lockOnRevoked: false });
      return d.enabled ? d.currentVersion : null;
    } catch {
      // Classified and audited by the gateway already; an unreadable version is "no news".
      return null;
    }
  }

  /**
   * Wraps a fresh canary under the key's current version; when that version differs from the
   * recorded one, records it (once, cluster-wide) and returns the new canary. A revoked wrap
   * locks like any data-path call (unless `lock.lockOnRevoked` is false; `lock.revokedAt` is the
   * revocation moment a push event named) and throws.
   */
  async recordCurrent(tenant: TenantView, key: ConnectedKey, trigger: RotationTrigger, lock: { lockOnRevoked: boolean; revokedAt?: Date }): Promise<Buffer | null> {
    const canary = randomBytes(32);
    let wrapped;
    try {
      wrapped = await this.deps.kms.wrap({ provider: key.provider, keyRef: key.keyRef }, canary, canaryContext(tenant.id), { tenantId: tenant.id, actor: ACTOR, action: "kms.probe", ...lock });
    } finally {
      canary.fill(0);
    }
    const to = wrapped.keyVersion;
    if (!to || to === key.keyVersion) return null;
    // Compare-and-set on the recorded version: of two probes that saw the same rotation, one records it.
    const rows = await this.deps.db.query<{ id: string }>(
      `UPDATE key_connection SET key_version = $2, canary_wrapped = $3, resolved_key = COALESCE($4, resolved_key)
        WHERE id = $1 AND status = 'connected' AND key_version IS NOT DISTINCT FROM $5 RETURNING id`,
      [key.connectionId, to, wrapped.wrapped, wrapped.wrappedByKey ?? null, key.keyVersion],
    );
    if (rows.length === 0) return null;
    const from = key.keyVersion;
    if (isVersionFormat(key.provider, from)) {
      // New DEKs at once: no instance keeps encrypting under a DEK wrapped by the old version.
      await this.deps.db.query(`UPDATE data_key SET retired_at = now() WHERE tenant_id = $1 AND key_connection_id = $2 AND retired_at IS NULL`, [tenant.id, key.connectionId]);
      this.rotations.inc({ provider: key.provider, detected_by: trigger });
      await this.deps.audit.record({
        tenantId: tenant.id,
        actor: ACTOR,
        action: "key.rotated",
        outcome: "success",
        provider: key.provider,
        keyRef: key.keyRef,
        keyVersion: to,
        detail: { from, to, detectedBy: trigger },
      });
    }
    this.deps.registry.invalidate(tenant.id);
    this.deps.keys.forgetTenant(tenant.id);
    await this.deps.bus.publish({ type: "tenant_changed", tenantId: tenant.id }).catch((e: unknown) => this.deps.backgroundErrors.report("rotation.publish", e));
    return wrapped.wrapped;
  }
}
