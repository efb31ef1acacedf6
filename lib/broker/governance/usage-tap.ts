// Feeds the usage monitor from the audit sink the broker already calls once per data request
// (success or refusal, single or batch item): every encrypt and decrypt entry, whatever path
// recorded it, is counted exactly once, and nothing on the data path has to remember to.
import type { AuditEntryInput, AuditSink } from "../../audit/types";
import type { UsageMonitor } from "./usage-monitor";

export class UsageTap implements AuditSink {
  constructor(
    private readonly inner: AuditSink,
    private readonly monitor: UsageMonitor,
  ) {}

  record(entry: AuditEntryInput): Promise<void> {
    this.observe(entry);
    return this.inner.record(entry);
  }

  /** A batch's entries, one group commit: each item counts as its own data request. */
  recordAll(entries: readonly AuditEntryInput[]): Promise<void> {
    for (const entry of entries) this.observe(entry);
    return this.inner.recordAll(entries);
  }

  private observe(entry: AuditEntryInput): void {
    if (entry.action !== "encrypt" && entry.action !== "decrypt") return;
    const tokenId = entry.actor.type === "service_token" ? entry.actor.id : undefined;
    // Refusals are the caller's doing (policy, scope, bad ciphertext), not locks or KMS outages.
    this.monitor.observe(entry.tenantId, tokenId, entry.purpose, entry.outcome === "denied" || entry.outcome === "invalid");
  }
}
