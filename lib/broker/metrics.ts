// Prometheus metrics of one broker instance, exposed at /api/metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class KmsMetrics {
  readonly registry = new Registry();
  private readonly kmsCalls: Counter<"provider" | "operation" | "outcome">;
  private readonly kmsLatency: Histogram<"provider" | "operation">;
  readonly lockDetection: Histogram<"cause">;
  readonly lockFanout: Histogram<"cause">;
  readonly dataRequests: Counter<"operation" | "outcome" | "cache">;
  readonly locks: Counter<"cause">;
  readonly policyRefusals: Counter<"operation" | "reason">;
  /** DEK unwraps answered by a class's secondary key (lib/broker/failover-monitor.ts), by the secondary's provider. */
  readonly failoverUnwraps: Counter<"provider">;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.kmsCalls = new Counter({ name: "cmek_kms_calls_total", help: "KMS calls by provider, operation and classified outcome", labelNames: ["provider", "operation", "outcome"], registers: [this.registry] });
    this.kmsLatency = new Histogram({ name: "cmek_kms_call_seconds", help: "KMS call latency", labelNames: ["provider", "operation"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
    this.lockDetection = new Histogram({ name: "cmek_lock_detection_seconds", help: "From the revocation (when known) or the first revoked answer to the lock taking effect on this instance", labelNames: ["cause"], buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: [this.registry] });
    this.lockFanout = new Histogram({ name: "cmek_lock_fanout_seconds", help: "From the lock on the deciding instance to the last acknowledging instance", labelNames: ["cause"], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2], registers: [this.registry] });
    this.dataRequests = new Counter({ name: "cmek_data_requests_total", help: "Encrypt and decrypt requests by outcome and DEK cache result", labelNames: ["operation", "outcome", "cache"], registers: [this.registry] });
    this.policyRefusals = new Counter({ name: "cmek_policy_refusals_total", help: "Data requests refused by the tenant's governance policy, by reason (purpose_missing, purpose_not_allowed, outside_access_window)", labelNames: ["operation", "reason"], registers: [this.registry] });
    this.failoverUnwraps = new Counter({ name: "cmek_failover_unwraps_total", help: "DEK unwraps answered by a data class's secondary key (primary unavailable or slower than the hedge budget, or a failover drill), by the secondary's provider", labelNames: ["provider"], registers: [this.registry] });
    this.locks = new Counter({ name: "cmek_tenant_locks_total", help: "Tenant locks by cause", labelNames: ["cause"], registers: [this.registry] });
  }

  kmsCall(provider: string, operation: string, outcome: string, latencyMs: number): void {
    this.kmsCalls.inc({ provider, operation, outcome });
    this.kmsLatency.observe({ provider, operation }, latencyMs / 1000);
  }

  gauge(name: string, help: string, collect: () => number): void {
    new Gauge({ name, help, registers: [this.registry], collect() { this.set(collect()); } });
  }
}
