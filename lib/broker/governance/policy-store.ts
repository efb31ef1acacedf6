// The data path's view of each tenant's governance (token policies, maintenance windows,
// break-glass grants, time zone, custom purposes, alert thresholds), held in memory like the
// tenant registry so that admission makes no database round trip. A change anywhere in the
// cluster publishes `governance_changed` and every instance drops its copy (milliseconds over
// LISTEN/NOTIFY); while the listener is down, every check reads the database instead.
import type { TAlertThresholds } from "../../contracts/governance";
import type { Database } from "../../db/database";
import type { WeeklyWindow } from "./access-windows";
import { thresholdsOf } from "./alert-thresholds";

export interface TokenPolicyView {
  allowedPurposes: ReadonlySet<string> | null;
  requirePurpose: boolean;
  weekly: readonly WeeklyWindow[] | null;
}

export interface TimeSpan {
  id: string;
  tokenId: string | null;
  startsAt: number;
  endsAt: number;
}

export interface GovernanceView {
  tenantId: string;
  timeZone: string;
  thresholds: TAlertThresholds;
  customPurposes: ReadonlySet<string>;
  policies: ReadonlyMap<string, TokenPolicyView>;
  /** The latest maintenance windows and unrevoked break-glass grants. */
  maintenance: readonly TimeSpan[];
  breakGlass: readonly TimeSpan[];
}

/** How long a loaded view is trusted even without a notification: a maintenance window or grant created far ahead still starts on time. */
const MAX_VIEW_AGE_MS = 60_000;
/** Maintenance windows and grants read per tenant (the most recent ending first). */
const MAX_SPANS = 200;

export class GovernanceStore {
  private views = new Map<string, { at: number; view: Promise<GovernanceView> }>();

  constructor(
    private readonly db: Database,
    /** False while notifications may be missed (listener down): then every read goes to the database. */
    private readonly cacheTrusted: () => boolean = () => true,
  ) {}

  forTenant(tenantId: string): Promise<GovernanceView> {
    const now = Date.now();
    const cached = this.views.get(tenantId);
    if (cached && this.cacheTrusted() && now - cached.at < MAX_VIEW_AGE_MS) return cached.view;
    const view = this.load(tenantId);
    this.views.set(tenantId, { at: now, view });
    // A failed load is not cached: the next request tries again.
    view.catch(() => {
      if (this.views.get(tenantId)?.view === view) this.views.delete(tenantId);
    });
    return view;
  }

  invalidate(tenantId: string): void {
    this.views.delete(tenantId);
  }

  invalidateAll(): void {
    this.views.clear();
  }

  private async load(tenantId: string): Promise<GovernanceView> {
    const p = this.db.prisma;
    const [settings, codes, policies, maintenance, grants] = await Promise.all([
      p.tenantGovernance.findUnique({ where: { tenantId } }),
      p.purposeCode.findMany({ where: { tenantId }, select: { code: true } }),
      p.tokenPolicy.findMany({ where: { tenantId } }),
      // The latest ones, whatever the time: the clock that judges them may be a test's (lib/broker/clock.ts).
      p.maintenanceWindow.findMany({ where: { tenantId }, orderBy: { endsAt: "desc" }, take: MAX_SPANS }),
      p.breakGlassGrant.findMany({ where: { tenantId, revokedAt: null }, orderBy: { expiresAt: "desc" }, take: MAX_SPANS }),
    ]);
    return {
      tenantId,
      timeZone: settings?.timeZone ?? "UTC",
      thresholds: thresholdsOf(settings?.alertThresholds),
      customPurposes: new Set(codes.map((c) => c.code)),
      policies: new Map(
        policies.map((r) => [
          r.tokenId,
          {
            allowedPurposes: Array.isArray(r.allowedPurposes) ? new Set(r.allowedPurposes.map(String)) : null,
            requirePurpose: r.requirePurpose,
            weekly: Array.isArray(r.weeklyWindows) ? (r.weeklyWindows as unknown as WeeklyWindow[]) : null,
          },
        ]),
      ),
      maintenance: maintenance.map((m) => ({ id: m.id, tokenId: m.tokenId, startsAt: m.startsAt.getTime(), endsAt: m.endsAt.getTime() })),
      breakGlass: grants.map((g) => ({ id: g.id, tokenId: g.tokenId, startsAt: g.startsAt.getTime(), endsAt: g.expiresAt.getTime() })),
    };
  }
}

/** The span covering `at` for this token (or for every token), if any. */
export function spanAt(spans: readonly TimeSpan[], tokenId: string, at: number): TimeSpan | undefined {
  return spans.find((s) => (s.tokenId === null || s.tokenId === tokenId) && s.startsAt <= at && at < s.endsAt);
}
