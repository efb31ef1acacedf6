// cmek_rewrap_* metrics of one instance.
import { Counter, Gauge, type Registry } from "prom-client";

export class RewrapMetrics {
  readonly deks: Counter<"outcome" | "method">;
  readonly jobs: Counter<"event">;
  readonly pauses: Counter<"cause">;
  readonly kmsCalls: Counter<"provider">;

  constructor(registry: Registry, activeJobs: () => number) {
    this.deks = new Counter({ name: "cmek_rewrap_deks_total", help: "DEKs handled by re-wrap jobs on this instance, by outcome and method", labelNames: ["outcome", "method"], registers: [registry] });
    this.jobs = new Counter({ name: "cmek_rewrap_jobs_total", help: "Re-wrap job events on this instance (started, completed, cancelled)", labelNames: ["event"], registers: [registry] });
    this.pauses = new Counter({ name: "cmek_rewrap_pauses_total", help: "Re-wrap job pauses by cause", labelNames: ["cause"], registers: [registry] });
    this.kmsCalls = new Counter({ name: "cmek_rewrap_kms_calls_total", help: "KMS calls made by re-wrap jobs on this instance", labelNames: ["provider"], registers: [registry] });
    const active: Gauge = new Gauge({ name: "cmek_rewrap_jobs_active", help: "Re-wrap jobs this instance is working right now", registers: [registry], collect: () => active.set(activeJobs()) });
  }
}
