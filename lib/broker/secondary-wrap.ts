// A new DEK of a class with a secondary key is wrapped under both (issue 12). The secondary wrap
// runs beside the primary's, so it adds no latency when both answer; its form is stored once the
// DEK row exists. It never fails the DEK: if the secondary is unavailable (or slower than the hedge
// budget after the primary finished), the DEK is created with its primary form alone and the
// re-wrap sweep (add_secondary) adds the missing form later.
import type { Database } from "../db/database";
import type { KmsCallMeta, KmsGateway } from "./kms-gateway";
import type { ConnectedKey } from "./tenant-registry";
import type { WrapResult } from "../kms/types";

export interface SecondaryWrapInFlight {
  /** Stores the form (the DEK row must exist by now), waiting for the wrap at most `waitMs` more. */
  store(db: Database, waitMs: number): Promise<void>;
}

/** Starts wrapping `plain` (a copy the caller hands over; zeroed here) under the secondary. */
export function startSecondaryWrap(kms: KmsGateway, secondary: ConnectedKey, plain: Buffer, context: Record<string, string>, meta: KmsCallMeta & { dekId: string }): SecondaryWrapInFlight {
  const wrapping: Promise<WrapResult | null> = kms
    .wrap({ provider: secondary.provider, keyRef: secondary.keyRef }, plain, context, { ...meta, keyRole: "secondary", opensCircuit: false })
    // Safe to drop: the DEK is created with its primary form alone and the sweep adds this one later.
    .catch(() => null)
    .finally(() => plain.fill(0));
  return {
    async store(db, waitMs) {
      const stored = wrapping.then(async (w) => {
        if (!w) return;
        await db.query(
          `INSERT INTO data_key_wrap (dek_id, key_connection_id, tenant_id, wrapped_key, key_version, wrapped_by_key)
           SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM key_connection WHERE id = $2 AND tenant_id = $3 AND status = 'connected' AND role = 'secondary')
           ON CONFLICT (dek_id, key_connection_id) DO NOTHING`,
          [meta.dekId, secondary.connectionId, meta.tenantId, w.wrapped, w.keyVersion, w.wrappedByKey ?? null],
        );
      });
      // Safe to ignore: a form that could not be stored is added by the sweep, like one never wrapped.
      const settled = stored.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    },
  };
}
