// The broker's operations, one method per API operation. The HTTP layer authenticates and
// parses; everything about tenants, keys, locks and the data path happens here.
import type { AuditActor, AuditEntryInput, AuditSink } from "../audit/types";
import { AuditUnavailableError } from "../audit/types";
import type { BrokerConfig } from "../config/env";
import type { EncryptionContext } from "../crypto/canonical-context";
import { openEnvelope, readEnvelopeHeader, sealEnvelope } from "../crypto/envelope";
import { InvalidCiphertextError } from "../crypto/errors";
import type { Database } from "../db/database";
import { providerFor, type KmsProviders } from "../kms/registry";
import { isKmsError, KmsError, type KmsProviderName } from "../kms/types";
import { ClusterBus } from "./cluster-bus";
import { DataKeyService } from "./data-keys";
import { DekCache, TenantDroppedError } from "./dek-cache";
import { BrokerError } from "./errors";
import { KeyHealthTracker } from "./key-health";
import { KmsGateway } from "./kms-gateway";
import { validateKeyRoundTrip, type ValidationResult } from "./key-validation";
import { KmsMetrics } from "./metrics";
import { Prober } from "./prober";
import { ServiceTokenStore } from "./service-tokens";
import { TenantLockService, type LockSource } from "./tenant-lock";
import { TenantRegistry, type TenantView } from "./tenant-registry";
import { createVendorFaultMonitor } from "./vendor-setup";
import { connectableKeyRef, claimKeyRef, ownershipStep } from "./key-ownership";
import type { Logger } from "../observability/logger";

export interface ServiceCaller {
  kind: "service";
  tokenId: string;
  tokenName: string;
  tenantId: string;
}

/** A data request's audit entry minus its outcome (and reason), filled in when it is refused. */
type RefusalEntry = Omit<AuditEntryInput, "outcome">;

export interface DataRequest {
  requestId: string;
  purpose?: string;
  context?: EncryptionContext;
}

export interface BrokerDeps {
  db: Database;
  config: BrokerConfig;
  providers: KmsProviders;
  audit: AuditSink;
  logger?: Logger;
}

export const SYSTEM_ACTOR: AuditActor = { type: "system", name: "broker" };

/** How long a client should wait before retrying after kms_unavailable. */
const KMS_RETRY_AFTER_S = 5;

export class Broker {
  readonly db: Database;
  readonly config: BrokerConfig;
  readonly audit: AuditSink;
  readonly metrics = new KmsMetrics();
  readonly health = new KeyHealthTracker();
  readonly registry: TenantRegistry;
  readonly cache: DekCache;
  readonly bus: ClusterBus;
  readonly tokens: ServiceTokenStore;
  readonly kms: KmsGateway;
  readonly keys: DataKeyService;
  readonly locks: TenantLockService;
  readonly prober: Prober;
  readonly vendorFaults: ReturnType<typeof createVendorFaultMonitor>;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: BrokerDeps) {
    this.db = deps.db;
    this.config = deps.config;
    this.audit = deps.audit;
    this.registry = new TenantRegistry(deps.db);
    this.cache = new DekCache({
      ttlMs: deps.config.BROKER_DEK_CACHE_TTL_MS,
      maxUses: deps.config.BROKER_DEK_CACHE_MAX_USES,
      maxEntries: deps.config.BROKER_DEK_CACHE_MAX_ENTRIES,
    });
    this.bus = new ClusterBus(deps.db, deps.config.instanceId);
    this.tokens = new ServiceTokenStore(deps.db);
    this.vendorFaults = createVendorFaultMonitor(deps, this.metrics.registry);
    this.kms = new KmsGateway(
      deps.providers,
      deps.audit,
      this.health,
      this.metrics,
      (tenantId, err, detectedAt, revokedAt, requestId) => this.lockOnRevocation(tenantId, err, detectedAt, revokedAt, requestId),
      deps.config.BROKER_KMS_CIRCUIT_MS,
      this.vendorFaults,
    );
    this.keys = new DataKeyService(deps.db, this.cache, this.kms);
    this.locks = new TenantLockService(deps.db, this.registry, this.cache, this.bus, deps.audit, this.metrics);
    this.prober = new Prober(this, {
      intervalMs: deps.config.BROKER_PROBE_INTERVAL_MS,
      lockedIntervalMs: deps.config.BROKER_LOCKED_PROBE_INTERVAL_MS,
      concurrency: deps.config.BROKER_PROBE_CONCURRENCY,
      kmsTimeoutMs: deps.config.BROKER_KMS_TIMEOUT_MS,
    });
    this.metrics.gauge("cmek_dek_cache_entries", "Unwrapped DEKs held in memory", () => this.cache.size);
    this.metrics.gauge("cmek_dek_cache_hits", "DEK cache hits since start", () => this.cache.stats.hits);
    this.metrics.gauge("cmek_dek_cache_misses", "DEK cache misses since start", () => this.cache.stats.misses);
  }

  async start(): Promise<void> {
    this.bus.onEvent((e) => {
      if (e.origin === this.bus.instanceId) return;
      if (e.type === "tenant_changed") {
        this.registry.invalidate(e.tenantId);
        this.keys.forgetTenant(e.tenantId);
      } else if (e.type === "tokens_changed") {
        this.tokens.invalidateTenant(e.tenantId);
      }
    });
    // Notifications may have been missed while the listener was down: forget everything held in
    // memory about tenants so the next request re-reads its state, and drop DEKs of tenants now locked.
    this.bus.onGap(() => void this.resync());
    await this.bus.start();
    await this.bus.publish({ type: "heartbeat", cachedTenants: 0 });
    this.every(1000, () => this.cache.sweep());
    this.every(5000, () => this.bus.publish({ type: "heartbeat", cachedTenants: this.cache.tenantsWithCachedKeys().size }));
    this.every(30_000, () => this.tokens.flushLastUsed());
    this.prober.start();
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      Promise.resolve()
        .then(fn)
        .catch(() => {});
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  async resync(): Promise<void> {
    const cached = this.registry.cachedTenants();
    this.registry.invalidateAll();
    for (const t of cached) {
      const fresh = await this.registry.load({ id: t.id });
      if (!fresh || fresh.state === "locked") this.cache.dropTenant(t.id);
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.prober.stop();
    await this.tokens.flushLastUsed().catch(() => {});
    await this.bus.stop();
    this.vendorFaults.stop();
    this.cache.clear();
  }

  // ---------------------------------------------------------------- tenants

  async requireTenant(slug: string): Promise<TenantView> {
    // Without the notification channel a lock decided elsewhere could be missed: read the state fresh.
    const t = this.bus.connected ? await this.registry.getBySlug(slug) : await this.registry.load({ slug });
    if (!t) throw new BrokerError("tenant_not_found", `no tenant "${slug}"`);
    if (!this.bus.connected && t.state === "locked") this.cache.dropTenant(t.id);
    return t;
  }

  async createTenant(actor: AuditActor, input: { slug: string; name: string }, requestId?: string) {
    const existing = await this.db.prisma.tenant.findUnique({ where: { slug: input.slug } });
    if (existing) throw new BrokerError("conflict", `tenant "${input.slug}" already exists`);
    const t = await this.db.prisma.tenant.create({ data: { slug: input.slug, name: input.name } });
    await this.audit.record({ tenantId: t.id, actor, action: "tenant.create", outcome: "success", requestId, detail: { slug: t.slug, name: t.name } });
    const view = await this.registry.load({ id: t.id });
    return this.describeTenant(view!);
  }

  describeTenant(t: TenantView) {
    return {
      id: t.id,
      slug: t.slug,
      name: t.name,
      state: t.state,
      since: t.stateSince.toISOString(),
      lockReason: t.lockReason,
      lockSource: t.lockSource,
      manualResume: t.manualResume,
    };
  }

  describeKey(t: TenantView) {
    if (!t.key) return null;
    return {
      id: t.key.connectionId,
      provider: t.key.provider,
      keyId: t.key.keyRef,
      keyVersion: t.key.keyVersion,
      lastValidatedAt: t.key.lastValidatedAt?.toISOString() ?? null,
    };
  }

  async getTenant(slug: string) {
    const t = await this.registry.load({ slug });
    if (!t) throw new BrokerError("tenant_not_found", `no tenant "${slug}"`);
    return { tenant: this.describeTenant(t), key: this.describeKey(t) };
  }

  async setManualResume(actor: AuditActor, slug: string, manualResume: boolean, requestId?: string) {
    const t = await this.requireTenant(slug);
    await this.db.prisma.tenant.update({ where: { id: t.id }, data: { manualResume } });
    await this.audit.record({ tenantId: t.id, actor, action: "tenant.settings", outcome: "success", requestId, detail: { manualResume } });
    await this.bus.publish({ type: "tenant_changed", tenantId: t.id });
    return this.getTenant(slug);
  }

  // ---------------------------------------------------------------- keys

  /** Connects a key after proving a wrap + unwrap round trip; throws grant_invalid naming the failed step. */
  async connectKey(actor: AuditActor, slug: string, input: { provider: KmsProviderName; keyId: string }, requestId?: string) {
    const tenant = await this.requireTenant(slug);
    // Canonical form, provider enabled, not another tenant's key, tagged as this tenant's (lib/broker/key-ownership.ts).
    const keyRef = await connectableKeyRef(this.deps.providers, this.db, tenant.id, input);
    const ownership = await ownershipStep(this.deps.providers, this.config, tenant.id, input.provider, keyRef);
    const key = { provider: input.provider, keyRef };
    const result = ownership && !ownership.ok ? ownership : await validateKeyRoundTrip(this.kms, tenant.id, key, actor, { lockOnRevoked: false, requestId });
    if (ownership?.ok) result.steps.unshift(...ownership.steps);
    await this.audit.record({
      tenantId: tenant.id,
      actor,
      action: "key.validate",
      outcome: result.ok ? "success" : result.unavailable ? "unavailable" : "denied",
      provider: input.provider,
      keyRef,
      keyVersion: result.keyVersion,
      requestId,
      reason: result.failure ? `${result.failure.step}:${result.failure.reason ?? result.failure.kind}` : undefined,
      detail: { steps: result.steps.map((s) => ({ step: s.step, ok: s.ok, latencyMs: Math.round(s.latencyMs * 10) / 10 })) },
    });
    if (!result.ok) throw validationError(result);
    await this.db.transaction(async (tx) => {
      await claimKeyRef(tx, this.deps.providers, tenant.id, input.provider, keyRef, result.keyVersion);
      await tx.query(`UPDATE key_connection SET status = 'replaced' WHERE tenant_id = $1 AND status = 'connected'`, [tenant.id]);
      await tx.query(
        `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
         VALUES (gen_random_uuid(), $1, $2::"KmsProviderName", $3, 'connected', $4, $5, now(), now(), 'success')`,
        [tenant.id, input.provider, keyRef, result.keyVersion, result.canaryWrapped],
      );
    });
    await this.audit.record({ tenantId: tenant.id, actor, action: "key.connect", outcome: "success", provider: input.provider, keyRef, keyVersion: result.keyVersion, requestId });
    this.keys.forgetTenant(tenant.id);
    let view = (await this.registry.load({ id: tenant.id }))!;
    // A working key activates a pending tenant, and resumes one the KMS had locked; a kill switch stays.
    if (view.state === "pending" || (view.state === "locked" && view.lockSource === "kms")) {
      view = await this.locks.markActive(view, "validation", actor, requestId);
    }
    await this.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
    return { tenant: this.describeTenant(view), key: this.describeKey(view), validation: { steps: result.steps } };
  }

  /** The provider's own format check of a key reference, without calling the KMS (the console's live validation). */
  checkKeyRef(provider: KmsProviderName, keyId: string): { ok: true } | { ok: false; message: string } {
    try {
      providerFor(this.deps.providers, provider).canonicalKeyRef(keyId);
      return { ok: true };
    } catch (e) {
      return { ok: false, message: isKmsError(e) ? e.message : "invalid key reference" };
    }
  }

  // ---------------------------------------------------------------- tokens

  async createToken(actor: AuditActor, slug: string, name: string, requestId?: string) {
    const tenant = await this.requireTenant(slug);
    const created = await this.tokens.create(tenant.id, name);
    await this.audit.record({ tenantId: tenant.id, actor, action: "token.create", outcome: "success", requestId, detail: { tokenId: created.id, name, prefix: created.prefix } });
    return { id: created.id, token: created.token, name, prefix: created.prefix, createdAt: created.createdAt.toISOString() };
  }

  async listTokens(slug: string) {
    const tenant = await this.requireTenant(slug);
    return (await this.tokens.list(tenant.id)).map((t) => ({
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      createdAt: t.createdAt.toISOString(),
      lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
      revokedAt: t.revokedAt?.toISOString() ?? null,
    }));
  }

  async revokeToken(actor: AuditActor, slug: string, tokenId: string, requestId?: string) {
    const tenant = await this.requireTenant(slug);
    const ok = await this.tokens.revoke(tenant.id, tokenId);
    if (!ok) throw new BrokerError("not_found", "no such active token for this tenant");
    this.tokens.invalidateTenant(tenant.id);
    await this.bus.publish({ type: "tokens_changed", tenantId: tenant.id });
    await this.audit.record({ tenantId: tenant.id, actor, action: "token.revoke", outcome: "success", requestId, detail: { tokenId } });
  }

  async assertTokenTenant(caller: ServiceCaller, slug: string): Promise<void> {
    const tenant = await this.requireTenant(slug);
    if (caller.tenantId !== tenant.id) throw new BrokerError("forbidden", "this token does not belong to this tenant");
  }

  async authenticateServiceToken(token: string, presentedHash?: Buffer): Promise<ServiceCaller | null> {
    const rec = await this.tokens.verify(token, presentedHash);
    return rec ? { kind: "service", tokenId: rec.id, tokenName: rec.name, tenantId: rec.tenantId } : null;
  }

  // ---------------------------------------------------------------- lock / unlock

  async lock(actor: AuditActor, slug: string, reason: string, requestId?: string, source: LockSource = "kill_switch") {
    const tenant = await this.requireTenant(slug);
    const outcome = await this.locks.lock(tenant, { source, reason: source === "kill_switch" ? `kill_switch: ${reason}` : reason, actor, requestId });
    return { tenant: this.describeTenant(outcome.tenant), fanout: outcome.fanout };
  }

  /** Re-validates the key with a real round trip; only then is the tenant active again. */
  async unlock(actor: AuditActor, slug: string, requestId?: string) {
    const tenant = await this.requireTenant(slug);
    if (!tenant.key) throw new BrokerError("tenant_not_ready", "tenant has no key to validate; connect one first");
    const result = await validateKeyRoundTrip(this.kms, tenant.id, { provider: tenant.key.provider, keyRef: tenant.key.keyRef }, actor, {
      lockOnRevoked: false,
      requestId,
    });
    if (!result.ok) {
      await this.audit.record({ tenantId: tenant.id, actor, action: "tenant.unlock", outcome: result.unavailable ? "unavailable" : "denied", requestId, reason: `${result.failure?.step}:${result.failure?.reason ?? result.failure?.kind}` });
      throw validationError(result);
    }
    const view = await this.locks.markActive(tenant, "admin", actor, requestId);
    return { tenant: this.describeTenant(view), validation: { steps: result.steps } };
  }

  private async lockOnRevocation(tenantId: string, err: KmsError, detectedAt: Date, revokedAt?: Date, requestId?: string): Promise<void> {
    const tenant = await this.registry.getById(tenantId);
    if (!tenant) return;
    await this.locks.lock(tenant, { source: "kms", reason: `kms:${err.provider}:${err.reason}`, actor: SYSTEM_ACTOR, detectedAt, revokedAt, requestId });
  }

  async status(slug: string) {
    const t = await this.requireTenant(slug);
    const last = await this.db.prisma.tenantTransition.findFirst({ where: { tenantId: t.id, toState: "locked" }, orderBy: { id: "desc" } });
    return {
      state: t.state,
      since: t.stateSince.toISOString(),
      reason: t.lockReason,
      lockSource: t.lockSource,
      health: this.health.snapshot(t.id),
      lastLock: last
        ? {
            cause: last.cause,
            reason: last.reason,
            revokedAt: last.revokedAt?.toISOString() ?? null,
            detectedAt: last.detectedAt?.toISOString() ?? null,
            effectiveAt: last.effectiveAt.toISOString(),
            detectionMs: last.revokedAt && last.detectedAt ? last.detectedAt.getTime() - last.revokedAt.getTime() : null,
            fanoutMs: last.fanoutMs,
          }
        : null,
    };
  }

  // ---------------------------------------------------------------- data path

  private serviceActor(c: ServiceCaller): AuditActor {
    return { type: "service_token", id: c.tokenId, name: c.tokenName };
  }

  /** Checks token scope and lock state; records refusals in the tenant's audit log. */
  private async admitDataRequest(caller: ServiceCaller, slug: string, op: "encrypt" | "decrypt", req: DataRequest): Promise<TenantView> {
    const tenant = await this.requireTenant(slug);
    const base = { tenantId: tenant.id, actor: this.serviceActor(caller), action: op, purpose: req.purpose, requestId: req.requestId } as const;
    if (caller.tenantId !== tenant.id) {
      await this.recordRefusal({ ...base, outcome: "denied", reason: "token_of_another_tenant" });
      throw new BrokerError("forbidden", "this token does not belong to this tenant");
    }
    if (tenant.state === "locked") {
      this.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "none" });
      await this.recordRefusal({ ...base, outcome: "locked", reason: tenant.lockReason ?? "locked" });
      this.locks.assertNotLocked(tenant);
    }
    if (!tenant.key || tenant.state === "pending") {
      await this.recordRefusal({ ...base, outcome: "denied", reason: "tenant_not_ready" });
      throw new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
    }
    return tenant;
  }

  private async recordRefusal(entry: Parameters<AuditSink["record"]>[0]): Promise<void> {
    await this.audit.record(entry).catch((e) => {
      throw auditFailure(e);
    });
  }

  async encrypt(caller: ServiceCaller, slug: string, plaintext: Buffer, req: DataRequest): Promise<Buffer> {
    const tenant = await this.admitDataRequest(caller, slug, "encrypt", req);
    const actor = this.serviceActor(caller);
    const refusal = { tenantId: tenant.id, actor, action: "encrypt" as const, purpose: req.purpose, requestId: req.requestId, bytes: plaintext.length };
    const dek = await this.withDataKey(tenant, refusal, () => this.keys.forEncrypt(tenant, { actor, requestId: req.requestId }));
    if (tenant.state === "locked") throw await this.lockedRefusal(tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit });
    let sealed: Buffer;
    try {
      sealed = sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId }, plaintext, req.context);
    } catch {
      // The DEK was destroyed between lookup and use: only a lock does that.
      throw await this.lockedRefusal(tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit });
    }
    await this.audit
      .record({ tenantId: tenant.id, actor, action: "encrypt", outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length, purpose: req.purpose, requestId: req.requestId })
      .catch((e) => {
        throw auditFailure(e);
      });
    this.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
    return sealed;
  }

  async decrypt(caller: ServiceCaller, slug: string, ciphertext: Buffer, req: DataRequest): Promise<Buffer> {
    const tenant = await this.admitDataRequest(caller, slug, "decrypt", req);
    const actor = this.serviceActor(caller);
    const base = { tenantId: tenant.id, actor, action: "decrypt" as const, purpose: req.purpose, requestId: req.requestId, bytes: ciphertext.length };
    let header;
    try {
      header = readEnvelopeHeader(ciphertext);
      if (header.tenantId !== tenant.id) throw new InvalidCiphertextError("ciphertext belongs to another tenant");
    } catch (e) {
      await this.recordRefusal({ ...base, outcome: "invalid", reason: "invalid_ciphertext" });
      throw new BrokerError("invalid_ciphertext", (e as Error).message);
    }
    const dek = await this.withDataKey(tenant, { ...base, dekId: header.dekId }, () => this.keys.forDecrypt(tenant, header.dekId, { actor, requestId: req.requestId }));
    if (tenant.state === "locked") throw await this.lockedRefusal(tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit });
    let plaintext: Buffer;
    try {
      plaintext = openEnvelope(dek.material, ciphertext, req.context);
    } catch (e) {
      if (dek.material.destroyed) throw await this.lockedRefusal(tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit });
      await this.recordRefusal({ ...base, outcome: "invalid", dekId: dek.dekId, cacheHit: dek.hit, reason: "invalid_ciphertext" });
      this.metrics.dataRequests.inc({ operation: "decrypt", outcome: "invalid", cache: dek.hit ? "hit" : "miss" });
      throw new BrokerError("invalid_ciphertext", e instanceof InvalidCiphertextError ? e.message : "ciphertext is invalid");
    }
    await this.audit.record({ ...base, outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length }).catch((e) => {
      plaintext.fill(0);
      throw auditFailure(e);
    });
    this.metrics.dataRequests.inc({ operation: "decrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
    return plaintext;
  }

  /** Runs a DEK lookup and turns KMS and lock failures into the API's errors, auditing the refusal. */
  /**
   * Runs a DEK lookup and turns KMS and lock failures into the API's errors, auditing the refusal
   * as the request's own entry (the caller's actor, request id, purpose): a 423 or 503 is a
   * failed key access and is recorded as carefully as a success.
   */
  private async withDataKey<T>(tenant: TenantView, refusal: RefusalEntry & { action: "encrypt" | "decrypt" }, fn: () => Promise<T>): Promise<T> {
    const op = refusal.action;
    try {
      return await fn();
    } catch (e) {
      if (e instanceof TenantDroppedError || (isKmsError(e) && e.kind === "revoked")) {
        const fresh = (await this.registry.getById(tenant.id)) ?? tenant;
        this.metrics.dataRequests.inc({ operation: op, outcome: "locked", cache: "miss" });
        throw await this.lockedRefusal(fresh, refusal);
      }
      if (isKmsError(e) && e.kind === "unavailable") {
        this.metrics.dataRequests.inc({ operation: op, outcome: "unavailable", cache: "miss" });
        await this.recordRefusal({ ...refusal, outcome: "unavailable", reason: e.detail.providerCode ?? "kms_unavailable" });
        throw new BrokerError("kms_unavailable", `the tenant's KMS is unreachable right now (${e.detail.providerCode ?? "unavailable"}); retry later`, {}, e.detail.retryAfterSeconds ?? KMS_RETRY_AFTER_S);
      }
      if (isKmsError(e) && e.kind === "invalid") {
        await this.recordRefusal({ ...refusal, outcome: "invalid", reason: "kms_invalid" });
        throw new BrokerError("invalid_ciphertext", "the stored data key could not be unwrapped for this tenant");
      }
      if (e instanceof BrokerError && e.code === "invalid_ciphertext") {
        // A well-formed header naming a DEK this tenant does not have (forged or from a deleted tenant).
        await this.recordRefusal({ ...refusal, outcome: "invalid", reason: "unknown_dek" });
        throw e;
      }
      if (e instanceof AuditUnavailableError) throw auditFailure(e);
      throw e;
    }
  }

  /** A request refused because the tenant is (or just became) locked: recorded like every refusal, then 423. */
  private async lockedRefusal(tenant: TenantView, refusal: RefusalEntry): Promise<BrokerError> {
    await this.recordRefusal({ ...refusal, outcome: "locked", reason: tenant.lockReason ?? "locked" });
    return lockedError(tenant);
  }
}

function lockedError(t: TenantView): BrokerError {
  return new BrokerError("tenant_locked", `tenant is locked (${t.lockReason ?? "locked"}) since ${t.stateSince.toISOString()}`, {
    reason: t.lockReason,
    since: t.stateSince.toISOString(),
  });
}

function auditFailure(e: unknown): BrokerError {
  if (e instanceof BrokerError) return e;
  return new BrokerError("audit_unavailable", "the audit log cannot record this request right now; no key was used", {}, 2);
}

function validationError(result: ValidationResult): BrokerError {
  const f = result.failure!;
  const what =
    f.reason === "access_denied"
      ? "the broker's identity is not allowed to use this key (grant or permission missing)"
      : f.reason === "disabled"
        ? "the key is disabled"
        : f.reason === "not_found"
          ? "the key does not exist or is not visible to the broker"
          : f.reason === "pending_deletion" || f.reason === "destroyed"
            ? "the key is scheduled for deletion or destroyed"
            : f.message;
  if (result.unavailable) {
    return new BrokerError("kms_unavailable", `could not reach the KMS during ${f.step}: ${f.message}`, { steps: result.steps }, KMS_RETRY_AFTER_S);
  }
  return new BrokerError("grant_invalid", `${f.step} failed: ${what}`, { step: f.step, reason: f.reason ?? f.kind, providerCode: f.code, steps: result.steps });
}
