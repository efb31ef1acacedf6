// Default alert thresholds (a tenant overrides any of them; table tenant_governance).
import type { TAlertThresholds } from "../../contracts/governance";

export const DEFAULT_ALERT_THRESHOLDS: TAlertThresholds = {
  rateMultiple: 10,
  rateFloor: 5,
  refusalMultiple: 10,
  refusalFloor: 3,
  learningMinutes: 60,
  resolveMinutes: 3,
  newToken: true,
  newPurpose: true,
  offHours: true,
};

/** Stored overrides over the defaults; members that are not numbers or booleans of the right kind are ignored. */
export function thresholdsOf(stored: unknown): TAlertThresholds {
  const out = { ...DEFAULT_ALERT_THRESHOLDS };
  if (!stored || typeof stored !== "object") return out;
  for (const [k, v] of Object.entries(stored)) {
    if (!Object.hasOwn(out, k)) continue;
    const key = k as keyof TAlertThresholds;
    if (typeof v === typeof out[key]) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}
