// The secondary-key part of a class card (issue 12): how far the secondary covers the class
// (ZSecondaryCoverage) and this instance's failover state. The class view builder
// (lib/broker/data-class-view.ts) fills every card from here.
import type { Database } from "../db/database";
import type { FailoverMonitor, FailoverState } from "./failover-monitor";
import { secondaryCoverage, type SecondaryCoverage } from "./lifecycle/secondary-forms";
import { classByName, type TenantView } from "./tenant-registry";

export interface SecondaryViewDeps {
  db: Database;
  failover: FailoverMonitor;
}

/** Coverage (null without a secondary) and failover state of each named class of the tenant. */
export async function secondaryStates(deps: SecondaryViewDeps, tenant: TenantView, names: string[]): Promise<Map<string, { coverage: SecondaryCoverage | null; failover: FailoverState }>> {
  const out = new Map<string, { coverage: SecondaryCoverage | null; failover: FailoverState }>();
  for (const name of names) {
    const cls = classByName(tenant, name);
    if (!cls) continue;
    const secondary = cls.scope.secondary;
    out.set(name, {
      coverage: secondary ? await secondaryCoverage(deps.db, tenant.id, secondary.connectionId) : null,
      failover: deps.failover.state(tenant.id, cls.id),
    });
  }
  return out;
}
