// Unwrap of a stored DEK with failover to its form under the class's secondary key (issue 12):
// the hedged race of lib/broker/hedged-unwrap.ts over the KMS gateway, counted by the
// FailoverMonitor (metric, health, drill tally). DataKeyService calls it on every cache miss.
import type { DataKeyMaterial } from "../crypto/data-key-material";
import { isKmsError } from "../kms/types";
import type { FailoverMonitor } from "./failover-monitor";
import { hedgedUnwrap } from "./hedged-unwrap";
import type { KeyOnRecord, KmsCallMeta, KmsGateway } from "./kms-gateway";

export interface StoredForm {
  key: KeyOnRecord;
  wrapped: Buffer;
}

export interface FailoverDeps {
  kms: KmsGateway;
  failover: FailoverMonitor;
  hedgeMs: number;
}

/** The DEK's primary form and, when it has one under a connected secondary, its secondary form. */
export interface DekForms {
  tenantId: string;
  /** data_class.id of the DEK (null: `default`). */
  classId: string | null;
  primary: StoredForm;
  secondary: StoredForm | null;
}

export async function unwrapWithFailover(deps: FailoverDeps, forms: DekForms, context: Record<string, string>, meta: KmsCallMeta): Promise<DataKeyMaterial> {
  const { tenantId, classId, primary, secondary } = forms;
  const forced = secondary !== null && deps.failover.forced(tenantId, classId);
  const viaPrimary = () => deps.kms.unwrapDataKey(primary.key, primary.wrapped, context, { ...meta, keyRole: "primary" });
  const viaSecondary = secondary
    ? async () => {
        const started = performance.now();
        try {
          const m = await deps.kms.unwrapDataKey(secondary.key, secondary.wrapped, context, { ...meta, keyRole: "secondary", failover: forced ? "drill" : "hedge" });
          if (forced) deps.failover.tallyForced(tenantId, classId, true, performance.now() - started);
          return m;
        } catch (e) {
          if (forced) deps.failover.tallyForced(tenantId, classId, false, performance.now() - started, isKmsError(e) ? e.kind : "error");
          throw e;
        }
      }
    : null;
  const r = await hedgedUnwrap(viaPrimary, viaSecondary, { hedgeMs: deps.hedgeMs, forceSecondary: forced, destroy: (m) => m.destroy() });
  if (r.via === "secondary" && secondary) deps.failover.recordFailover(tenantId, classId, secondary.key.provider);
  return r.result;
}
