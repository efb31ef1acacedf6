// Vendor-side KMS faults: the broker's own identity or credentials are refused. They must never
// lock a tenant (a bad deployment would otherwise lock every tenant of a provider at once), and
// they must never pass silently either: each is counted (cmek_vendor_credential_errors_total),
// logged as an error (at most one line per provider and cause every LOG_EVERY_MS, with the count
// of the ones folded into it), and raised as a fleet alarm that every instance's fleet view shows.
//
// `review` is the gateway's classification hook: an access-denied answer is checked against the
// vendor's canary key (lib/kms/vendor-canary.ts) before it may lock anyone.
import { Counter, type Registry } from "prom-client";
import type { Database } from "../db/database";
import type { VendorCanary } from "../kms/vendor-canary";
import { KmsError, type KmsProviderName, type VendorFaultCause } from "../kms/types";
import type { Logger } from "../observability/logger";

const LOG_EVERY_MS = 10_000;
const ALARM_WRITE_EVERY_MS = 2_000;
const SUSPEND_AFTER_FAULTS = 3;
/** How long after its last occurrence an alarm stays in the fleet view. */
export const VENDOR_ALARM_WINDOW_MS = 5 * 60_000;

export interface VendorAlarm {
  instanceId: string;
  provider: KmsProviderName;
  cause: VendorFaultCause;
  message: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

const CAUSE_TEXT: Record<VendorFaultCause, string> = {
  credentials_rejected: "the KMS rejected the broker's own credentials (unknown key, bad secret or signature, expired token)",
  wrong_identity: "the broker is calling the KMS as an identity other than its configured one",
  identity_lacks_access: "the broker's identity is refused on the vendor's own canary key: the vendor lost access, not the tenants",
};

interface Pending {
  count: number;
  message: string;
  lastLogAt: number;
  folded: number;
  lastWriteAt: number;
  timer: NodeJS.Timeout | null;
}

export class VendorFaultMonitor {
  private readonly counter: Counter<"provider" | "cause">;
  private readonly pending = new Map<string, Pending>();
  /** Per provider: the last vendor-side fault and the last successful KMS call of this instance. */
  private readonly lastFaultAt = new Map<KmsProviderName, number>();
  private readonly lastSuccessAt = new Map<KmsProviderName, number>();
  /** Vendor-side faults per provider since its last successful call. */
  private readonly faultsSinceSuccess = new Map<KmsProviderName, number>();

  constructor(
    private readonly opts: { db: Database; logger: Logger; registry: Registry; instanceId: string; canary: VendorCanary | null },
  ) {
    this.counter = new Counter({
      name: "cmek_vendor_credential_errors_total",
      help: "KMS calls refused because of the broker's own identity or credentials (never a tenant lock), by provider and cause",
      labelNames: ["provider", "cause"],
      registers: [opts.registry],
    });
  }

  /**
   * Turns a tenant-key refusal that is really the vendor's (its canary is refused too) into
   * `unavailable` with a vendor cause. Anything else is returned unchanged.
   */
  async review(provider: KmsProviderName, keyRef: string, err: KmsError): Promise<KmsError> {
    if (err.kind !== "revoked" || err.reason !== "access_denied" || !this.opts.canary) return err;
    const verdict = await this.opts.canary.check(provider, keyRef);
    if (verdict.state === "unknown") {
      this.opts.logger.warn({ provider, canary: verdict.message }, "vendor canary could not confirm an access-denied answer; treating it as the tenant's revocation");
    }
    if (verdict.state !== "refused") return err;
    return new KmsError(
      "unavailable",
      provider,
      `${err.message}; the vendor's canary key is refused too, so the broker's own identity lost access (${verdict.message}); not a revocation`,
      { providerCode: err.detail.providerCode, vendorFault: verdict.cause },
    );
  }

  /** Counts, logs and raises the alarm for one vendor-side failure. Never throws. */
  report(provider: KmsProviderName, err: KmsError): void {
    const cause = err.detail.vendorFault;
    if (!cause) return;
    this.counter.inc({ provider, cause });
    this.lastFaultAt.set(provider, Date.now());
    this.faultsSinceSuccess.set(provider, (this.faultsSinceSuccess.get(provider) ?? 0) + 1);
    const id = `${provider} ${cause}`;
    let p = this.pending.get(id);
    if (!p) {
      p = { count: 0, message: err.message, lastLogAt: 0, folded: 0, lastWriteAt: 0, timer: null };
      this.pending.set(id, p);
    }
    p.count++;
    p.message = err.message;
    const now = Date.now();
    if (now - p.lastLogAt >= LOG_EVERY_MS) {
      this.opts.logger.error(
        { provider, cause, providerCode: err.detail.providerCode, repeated: p.folded, kmsMessage: err.message.slice(0, 500) },
        `vendor-side KMS credential fault (${provider}): ${CAUSE_TEXT[cause]}; no tenant is locked for it, callers get 503 until it is fixed`,
      );
      p.lastLogAt = now;
      p.folded = 0;
    } else {
      p.folded++;
    }
    this.scheduleWrite(provider, cause, p);
  }

  private scheduleWrite(provider: KmsProviderName, cause: VendorFaultCause, p: Pending): void {
    if (p.timer) return;
    const wait = Math.max(0, p.lastWriteAt + ALARM_WRITE_EVERY_MS - Date.now());
    p.timer = setTimeout(() => {
      p.timer = null;
      p.lastWriteAt = Date.now();
      const count = p.count;
      p.count = 0;
      this.opts.db
        .query(
          `INSERT INTO vendor_alarm (instance_id, provider, cause, message, count, first_at, last_at)
           VALUES ($1, $2::"KmsProviderName", $3, $4, $5, now(), now())
           ON CONFLICT (instance_id, provider, cause) DO UPDATE
             SET message = EXCLUDED.message, count = vendor_alarm.count + EXCLUDED.count, last_at = now(),
                 first_at = CASE WHEN vendor_alarm.last_at < now() - make_interval(secs => $6) THEN now() ELSE vendor_alarm.first_at END`,
          [this.opts.instanceId, provider, cause, p.message.slice(0, 1000), count, VENDOR_ALARM_WINDOW_MS / 1000],
        )
        .catch((e: unknown) => {
          // The count and log line already happened; the alarm row is retried with the next fault.
          p.count += count;
          this.opts.logger.warn({ err: e instanceof Error ? e : new Error(String(e)) }, "could not record the vendor fault alarm");
        });
    }, wait);
    p.timer.unref();
  }

  /** A KMS call of this instance to `provider` succeeded: its credentials there work (again). */
  success(provider: KmsProviderName): void {
    this.lastSuccessAt.set(provider, Date.now());
    this.faultsSinceSuccess.delete(provider);
  }

  /**
   * Whether this instance's own credentials look broken for some provider: vendor-side faults
   * (SUSPEND_AFTER_FAULTS in a row, the last within `ms`) and no successful call to that provider
   * since, so one stray 401 does not stop an instance probing. Its prober then leaves every key to
   * the other instances (claims are not per provider, and a claimed key it cannot probe would
   * only wait for it).
   */
  faultedWithin(ms: number): boolean {
    const now = Date.now();
    for (const [provider, at] of this.lastFaultAt) {
      if (now - at < ms && (this.faultsSinceSuccess.get(provider) ?? 0) >= SUSPEND_AFTER_FAULTS) return true;
    }
    return false;
  }

  stop(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
  }
}

/** Alarms any instance raised within the alarm window, newest first: what the fleet view shows vendor ops. */
export async function recentVendorAlarms(db: Database): Promise<VendorAlarm[]> {
  const rows = await db.query<{ instance_id: string; provider: KmsProviderName; cause: VendorFaultCause; message: string; count: number; first_at: Date; last_at: Date }>(
    `SELECT instance_id, provider::text AS provider, cause, message, count, first_at, last_at FROM vendor_alarm
      WHERE last_at > now() - make_interval(secs => $1) ORDER BY last_at DESC LIMIT 50`,
    [VENDOR_ALARM_WINDOW_MS / 1000],
  );
  return rows.map((r) => ({
    instanceId: r.instance_id,
    provider: r.provider,
    cause: r.cause,
    message: r.message,
    count: Number(r.count),
    firstAt: new Date(r.first_at).toISOString(),
    lastAt: new Date(r.last_at).toISOString(),
  }));
}
