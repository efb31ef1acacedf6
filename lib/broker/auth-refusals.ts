// Requests refused for missing or invalid credentials. Anyone can send them, so they must not
// reach a tenant's audit chain one entry each (500 anonymous decrypts used to add 500 entries,
// under request ids of the sender's choosing). They are counted in metrics, and a tenant's log
// gets at most one `auth.refused` summary per window with the count. A known caller refused for
// using the wrong credential (the admin token on the data path) is still audited individually.
import { Counter, type Registry } from "prom-client";
import type { AuditSink } from "../audit/types";
import type { TenantView } from "./tenant-registry";

export type AuthRefusalReason = "missing_credentials" | "invalid_credentials" | "rate_limited";

interface WindowCount {
  count: number;
  operations: Record<string, number>;
  reasons: Partial<Record<AuthRefusalReason, number>>;
}

export interface AuthRefusalOptions {
  metrics: Registry;
  audit: AuditSink;
  /** Resolves a slug named in a refused request; unknown slugs get no summary. */
  tenantBySlug: (slug: string) => Promise<TenantView | null>;
  windowMs?: number;
  /** Distinct slugs summarized per window; beyond that refusals are only counted in metrics. */
  maxTenantsPerWindow?: number;
  onError?: (err: unknown) => void;
}

export const AUTH_REFUSAL_WINDOW_MS = 60_000;

export class AuthRefusalRecorder {
  private readonly refusals: Counter<"reason">;
  private readonly unsummarized: Counter;
  private window = new Map<string, WindowCount>();
  private windowStart = new Date();
  private timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;
  private readonly maxTenants: number;

  constructor(private readonly opts: AuthRefusalOptions) {
    this.windowMs = opts.windowMs ?? AUTH_REFUSAL_WINDOW_MS;
    this.maxTenants = opts.maxTenantsPerWindow ?? 1000;
    this.refusals = new Counter({
      name: "cmek_auth_refusals_total",
      help: "API requests refused before authentication succeeded, by reason",
      labelNames: ["reason"],
      registers: [opts.metrics],
    });
    this.unsummarized = new Counter({
      name: "cmek_auth_refusals_unsummarized_total",
      help: "Unauthenticated refusals naming a tenant that got no audit summary (too many distinct tenants in one window)",
      registers: [opts.metrics],
    });
  }

  /** Counts one refusal; `tenant` is the slug a data request named, if any. Costs no I/O. */
  note(reason: AuthRefusalReason, tenant?: { slug: string; operation: string }): void {
    this.refusals.inc({ reason });
    if (!tenant) return;
    let w = this.window.get(tenant.slug);
    if (!w) {
      if (this.window.size >= this.maxTenants) {
        this.unsummarized.inc();
        return;
      }
      w = { count: 0, operations: {}, reasons: {} };
      this.window.set(tenant.slug, w);
    }
    w.count++;
    w.operations[tenant.operation] = (w.operations[tenant.operation] ?? 0) + 1;
    w.reasons[reason] = (w.reasons[reason] ?? 0) + 1;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.windowMs);
    this.timer.unref();
  }

  /** Writes one summary entry per tenant for the window that ends now. */
  async flush(): Promise<void> {
    const counts = this.window;
    const from = this.windowStart;
    this.window = new Map();
    this.windowStart = new Date();
    for (const [slug, w] of counts) {
      try {
        const tenant = await this.opts.tenantBySlug(slug);
        if (!tenant) continue;
        await this.opts.audit.record({
          tenantId: tenant.id,
          actor: { type: "system", name: "unauthenticated" },
          action: "auth.refused",
          outcome: "denied",
          reason: "unauthenticated",
          // No request id: the senders chose theirs, and a summary stands for many requests.
          detail: { count: w.count, operations: w.operations, reasons: w.reasons, from: from.toISOString(), to: this.windowStart.toISOString() },
        });
      } catch (err) {
        // A summary that cannot be written is reported, not retried: the metrics still hold the count.
        this.opts.onError?.(err);
      }
    }
  }

  /** Stops the timer and writes what the current window holds. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
