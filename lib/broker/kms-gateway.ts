// Every KMS call the broker makes on a tenant's behalf goes through here: it is timed,
// audited, counted in the tenant's key health, and a `revoked` answer locks the tenant at
// once (detection on use). `unavailable` never locks.
import type { AuditActor, AuditAction, AuditSink } from "../audit/types";
import { DataKeyMaterial } from "../crypto/data-key-material";
import { providerFor, type KmsProviders } from "../kms/registry";
import { isKmsError, KmsError, type KmsProviderName, type RevocationReason, type WrapResult } from "../kms/types";
import type { KeyHealthTracker } from "./key-health";
import type { KmsMetrics } from "./metrics";
import type { VendorFaultMonitor } from "./vendor-faults";

export interface KeyOnRecord {
  provider: KmsProviderName;
  keyRef: string;
  /**
   * The data class the key belongs to (data_class.id; null: `default`), when the caller knows it:
   * a revoked answer then locks exactly that class. Absent: lock-on-revocation looks it up.
   */
  dataClassId?: string | null;
}

export interface KmsCallMeta {
  tenantId: string;
  actor: AuditActor;
  requestId?: string;
  dekId?: string;
  /** "kms.wrap" etc. are inferred; probes pass "kms.probe". */
  action?: AuditAction;
  /** Set false for calls whose revoked answer must not lock (key validation of a not-yet-connected key). */
  lockOnRevoked?: boolean;
  /** Revocation reasons that do not lock from this call: the caller confirms them first (the prober, for one disabled old version). */
  deferLockFor?: readonly RevocationReason[];
  /** When the revocation itself happened, if known (push events, tests); recorded for time-to-lock. */
  revokedAt?: Date;
  /** Data-path calls fail fast while the key's circuit is open; probes and validations always call. */
  dataPath?: boolean;
  /**
   * Set false for background bulk work (re-wrap jobs): its own throttled or unreachable answers
   * must not make the data path fail fast; the job backs off by itself.
   */
  opensCircuit?: boolean;
  /**
   * Which key of its class this is (issue 12). The audit entry names the key that was called
   * (provider, keyRef) and, for a secondary, says so: `detail.keyRole`, and `detail.failover`
   * when the call is a failover from an unavailable or slow primary (or `detail.drill`).
   */
  keyRole?: "primary" | "secondary";
  failover?: "hedge" | "drill";
}



/** The audit detail naming a secondary key's role (nothing for a primary: entries stay as they were). */
function roleDetail(meta: KmsCallMeta): { detail?: Record<string, unknown> } {
  if (meta.keyRole !== "secondary") return {};
  return { detail: { keyRole: "secondary", ...(meta.failover ? { failover: meta.failover } : {}) } };
}

/** `requestId` is that of the request whose KMS call found the revocation, so its lock entry links to it in the audit log. */
export type RevokedHandler = (tenantId: string, error: KmsError, detectedAt: Date, revokedAt?: Date, requestId?: string, key?: KeyOnRecord) => Promise<void>;

export class KmsGateway {
  constructor(
    private readonly providers: KmsProviders,
    private readonly audit: AuditSink,
    private readonly health: KeyHealthTracker,
    private readonly metrics: KmsMetrics,
    private readonly onRevoked: RevokedHandler,
    /** After an unreachable answer, data-path calls for that key answer 503 at once for this long (0: off). */
    private readonly circuitOpenMs = 5000,
    /** Tells the vendor's own credential faults from tenant revocations, and reports them. */
    private readonly vendorFaults?: VendorFaultMonitor,
  ) {}

  /** Keys whose KMS was unreachable just now, and until when requests skip them. */
  private readonly openUntil = new Map<string, number>();
  /** When each key's KMS last answered a call (performance.now()). */
  private readonly lastAnswer = new Map<string, number>();

  async wrap(key: KeyOnRecord, plaintext: Buffer, context: Record<string, string>, meta: KmsCallMeta): Promise<WrapResult> {
    return this.call("kms.wrap", key, meta, (p) => p.wrap(key.keyRef, plaintext, context), (r) => r.keyVersion);
  }

  /** Unwraps a DEK into memory that the caller owns (and must destroy). */
  async unwrapDataKey(key: KeyOnRecord, wrapped: Buffer, context: Record<string, string>, meta: KmsCallMeta): Promise<DataKeyMaterial> {
    const raw = await this.call("kms.unwrap", key, meta, (p) => p.unwrap(key.keyRef, wrapped, context), () => null);
    return DataKeyMaterial.takeFrom(raw);
  }

  async unwrapRaw(key: KeyOnRecord, wrapped: Buffer, context: Record<string, string>, meta: KmsCallMeta): Promise<Buffer> {
    return this.call("kms.unwrap", key, meta, (p) => p.unwrap(key.keyRef, wrapped, context), () => null);
  }

  /** Unwraps the prober's canary; `usedCurrentVersion` is set where the same answer tells it (GCP used_primary). */
  async unwrapCanary(key: KeyOnRecord, wrapped: Buffer, context: Record<string, string>, meta: KmsCallMeta): Promise<{ plaintext: Buffer; usedCurrentVersion?: boolean }> {
    return this.call("kms.unwrap", key, meta, async (p) => (p.unwrapWithVersionCheck ? p.unwrapWithVersionCheck(key.keyRef, wrapped, context) : { plaintext: await p.unwrap(key.keyRef, wrapped, context) }), () => null);
  }

  /** True where unwrapCanary reports the version check itself, so the prober needs no describe. */
  checksVersionOnUnwrap(provider: KmsProviderName): boolean {
    return typeof providerFor(this.providers, provider).unwrapWithVersionCheck === "function";
  }

  /** In-KMS re-wrap from one key to another of the same provider; null when the provider has no such call. */
  async reencrypt(from: KeyOnRecord, to: KeyOnRecord, wrapped: Buffer, fromContext: Record<string, string>, toContext: Record<string, string>, meta: KmsCallMeta): Promise<WrapResult | null> {
    const provider = providerFor(this.providers, to.provider);
    if (from.provider !== to.provider || !provider.reencrypt) return null;
    return this.call("kms.reencrypt", to, meta, (p) => p.reencrypt!(from.keyRef, to.keyRef, wrapped, fromContext, toContext), (r) => r.keyVersion);
  }

  async describe(key: KeyOnRecord, meta: KmsCallMeta) {
    return this.call("kms.describe", key, meta, (p) => p.describe(key.keyRef), (d) => d.currentVersion);
  }

  /** When a deletion the tenant scheduled becomes final (null: none). Never locks: it only reads metadata. */
  async scheduledDeletion(key: KeyOnRecord, meta: KmsCallMeta): Promise<Date | null> {
    return this.call("kms.describe", key, { ...meta, lockOnRevoked: false }, (p) => p.scheduledDeletion(key.keyRef), () => null);
  }

  private async call<T>(
    defaultAction: AuditAction,
    key: KeyOnRecord,
    meta: KmsCallMeta,
    fn: (p: ReturnType<typeof providerFor>) => Promise<T>,
    versionOf: (r: T) => string | null,
  ): Promise<T> {
    const action = meta.action ?? defaultAction;
    const circuit = `${key.provider} ${key.keyRef}`;
    if (meta.dataPath) {
      const until = this.openUntil.get(circuit) ?? 0;
      // Without this, every cache miss in an outage would wait out the full timeout and retries.
      // Only "unavailable" opens it, so it can never hide a revocation; the prober keeps checking.
      if (Date.now() < until) {
        throw new KmsError("unavailable", key.provider, "the tenant's KMS was unreachable moments ago; not calling it again yet", {
          providerCode: "circuit_open",
          retryAfterSeconds: Math.max(1, Math.ceil((until - Date.now()) / 1000)),
        });
      }
    }
    const started = performance.now();
    const op = action.replace("kms.", "");
    try {
      const result = await fn(providerFor(this.providers, key.provider));
      const answeredAt = performance.now();
      const latencyMs = answeredAt - started;
      this.openUntil.delete(circuit);
      this.lastAnswer.set(circuit, answeredAt);
      this.vendorFaults?.success(key.provider);
      this.health.success(meta.tenantId, latencyMs, key);
      this.metrics.kmsCall(key.provider, op, "success", latencyMs);
      await this.audit.record({
        tenantId: meta.tenantId,
        actor: meta.actor,
        action,
        outcome: "success",
        provider: key.provider,
        keyRef: key.keyRef,
        keyVersion: versionOf(result),
        dekId: meta.dekId,
        latencyMs,
        requestId: meta.requestId,
        ...roleDetail(meta),
      });
      return result;
    } catch (e) {
      const latencyMs = performance.now() - started;
      let err = isKmsError(e) ? e : new KmsError("unavailable", key.provider, `unexpected KMS client failure: ${(e as Error)?.message ?? String(e)}`);
      if (this.vendorFaults) {
        // Before anything acts on the answer: a refusal that is the vendor's own must not lock.
        err = await this.vendorFaults.review(key.provider, key.keyRef, err);
        this.vendorFaults.report(key.provider, err);
      }
      const code = err.detail.providerCode ?? null;
      this.health.failure(meta.tenantId, err.kind, code, key);
      this.metrics.kmsCall(key.provider, op, err.kind, latencyMs);
      // A call that hung through an outage fails seconds after the KMS is back; if a call started
      // later has been answered since, that failure is old news and must not shut the key off again
      // (it kept AWS tenants failing ~7 s after an outage ended instead of ~4).
      const stale = (this.lastAnswer.get(circuit) ?? -Infinity) > started;
      if (err.kind === "unavailable" && this.circuitOpenMs > 0 && meta.opensCircuit !== false && !stale) {
        this.openUntil.set(circuit, Date.now() + Math.max(this.circuitOpenMs, (err.detail.retryAfterSeconds ?? 0) * 1000));
      }
      const detectedAt = new Date();
      // Lock before anything else (even the audit write) so no other request is served meanwhile.
      const deferred = err.reason !== undefined && meta.deferLockFor?.includes(err.reason) === true;
      if (err.kind === "revoked" && meta.lockOnRevoked !== false && !deferred) await this.onRevoked(meta.tenantId, err, detectedAt, meta.revokedAt, meta.requestId, key);
      // The caller gets the KMS error either way; a request's own refusal entry (written by the
      // data path, which fails closed with audit_unavailable) is what must be durable, not this one.
      await this.audit
        .record({
          tenantId: meta.tenantId,
          actor: meta.actor,
          action,
          outcome: err.kind,
          provider: key.provider,
          keyRef: key.keyRef,
          dekId: meta.dekId,
          latencyMs,
          requestId: meta.requestId,
          // A vendor-side fault shows in the tenant's log as the vendor's, not as its KMS failing.
          reason: err.kind === "revoked" ? `kms:${key.provider}:${err.reason}` : err.detail.vendorFault ? `vendor:${err.detail.vendorFault}` : (code ?? err.kind),
          detail: { message: err.message.slice(0, 500), ...roleDetail(meta).detail },
        })
        .catch(() => {});
      throw err;
    }
  }
}
