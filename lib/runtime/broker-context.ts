// Builds one instance's BrokerContext (lib/broker/context.ts) and runs its background loops.
// Every service gets only what it uses; the loops report failures through BackgroundErrors
// (logged at warn with the task name, counted in cmek_background_errors_total{task}).
import type { AuditSink } from "../audit/types";
import { ClusterBus } from "../broker/cluster-bus";
import type { BrokerContext } from "../broker/context";
import { DataKeyService } from "../broker/data-keys";
import { deletionWindowRecorder } from "../broker/deletion-window";
import { DekCache } from "../broker/dek-cache";
import { FailoverMonitor } from "../broker/failover-monitor";
import { KeyHealthTracker } from "../broker/key-health";
import { KmipCredentialStore } from "../broker/kmip-credentials";
import { KmsGateway } from "../broker/kms-gateway";
import { RewrapWorker } from "../broker/lifecycle/rewrap-worker";
import { lockOnRevocation } from "../broker/lock-on-revocation";
import { systemClock, type Clock } from "../broker/clock";
import { AlertStore } from "../broker/governance/alert-store";
import { GovernanceStore } from "../broker/governance/policy-store";
import { UsageMonitor } from "../broker/governance/usage-monitor";
import { UsageTap } from "../broker/governance/usage-tap";
import { KmsMetrics } from "../broker/metrics";
import { KeyRotationRecorder } from "../broker/key-rotation";
import { Prober } from "../broker/prober";
import { resyncAfterGap } from "../broker/resync";
import { ServiceTokenStore } from "../broker/service-tokens";
import { TenantLockService } from "../broker/tenant-lock";
import { TenantRegistry } from "../broker/tenant-registry";
import { createVendorFaultMonitor } from "../broker/vendor-setup";
import type { BrokerConfig } from "../config/env";
import type { Database } from "../db/database";
import type { KmsProviders } from "../kms/registry";
import { BackgroundErrors } from "../observability/background-errors";
import { createLogger, type Logger } from "../observability/logger";

export type { BrokerContext } from "../broker/context";

export interface BrokerContextDeps {
  db: Database;
  config: BrokerConfig;
  providers: KmsProviders;
  audit: AuditSink;
  logger?: Logger;
  /** "Now" for governance (access windows, break-glass, usage baselines); tests inject one. */
  clock?: Clock;
  /** The KMIP provider's credential store, when the caller built the providers with it. */
  kmipCredentials?: KmipCredentialStore;
}

export function createBrokerContext(deps: BrokerContextDeps): BrokerContext {
  const { db, config, providers } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger({ level: config.BROKER_LOG_LEVEL, instanceId: config.instanceId });
  const metrics = new KmsMetrics();
  const backgroundErrors = new BackgroundErrors(logger, metrics.registry);
  const health = new KeyHealthTracker();
  const registry = new TenantRegistry(db);
  const cache = new DekCache({
    ttlMs: config.BROKER_DEK_CACHE_TTL_MS,
    maxUses: config.BROKER_DEK_CACHE_MAX_USES,
    maxEntries: config.BROKER_DEK_CACHE_MAX_ENTRIES,
    onRefreshError: (e) => backgroundErrors.report("dek.refresh_ahead", e),
  });
  const bus = new ClusterBus(db, config.instanceId);
  const governance = new GovernanceStore(db, () => bus.connected);
  const alerts = new AlertStore(db, deps.audit);
  const usage = new UsageMonitor(
    clock,
    { thresholds: async (tenantId) => governance.forTenant(tenantId) },
    { see: (a) => alerts.see(a), resolveQuiet: (t, before, at) => alerts.resolveQuiet(t, before, at) },
  );
  // Every data-path audit entry also feeds the usage baselines (lib/broker/governance/usage-tap.ts).
  const audit = new UsageTap(deps.audit, usage);
  // While the listener is down a revocation elsewhere would go unheard: verify against the database.
  const tokens = new ServiceTokenStore(db, () => bus.connected);
  const locks = new TenantLockService(db, registry, cache, bus, audit, metrics, backgroundErrors);
  const vendorFaults = createVendorFaultMonitor({ db, config, providers, logger }, metrics.registry);
  const kms = new KmsGateway(providers, audit, health, metrics, lockOnRevocation({ registry, locks, db }, (tenant, err) => recordDeletion(tenant, err)), config.BROKER_KMS_CIRCUIT_MS, vendorFaults);
  // In the background: the refused request or probe does not wait for the extra KMS read of the date.
  const recordDeletion = deletionWindowRecorder({ db, kms, backgroundErrors });
  const failover = new FailoverMonitor(metrics);
  const keys = new DataKeyService(db, cache, kms, undefined, undefined, { monitor: failover, hedgeMs: config.BROKER_FAILOVER_HEDGE_MS });
  const rotation = new KeyRotationRecorder({ db, kms, audit, bus, keys, registry, metrics, backgroundErrors });
  const prober = new Prober(
    { db, registry, kms, locks, cache, health, metrics, backgroundErrors, instanceId: config.instanceId, vendorFaults, rotation },
    {
      intervalMs: config.BROKER_PROBE_INTERVAL_MS,
      lockedIntervalMs: config.BROKER_LOCKED_PROBE_INTERVAL_MS,
      concurrency: config.BROKER_PROBE_CONCURRENCY,
      kmsTimeoutMs: config.BROKER_KMS_TIMEOUT_MS,
    },
  );
  const lifecycle = new RewrapWorker(
    { db, kms, registry, locks, audit, metrics, backgroundErrors, instanceId: config.instanceId },
    {
      sweepMs: config.BROKER_REWRAP_SWEEP_MS,
      leaseMs: config.BROKER_REWRAP_LEASE_MS,
      batchSize: config.BROKER_REWRAP_BATCH_SIZE,
      tenantCallsPerSecond: config.BROKER_REWRAP_TENANT_RATE,
      providerCallsPerSecond: config.BROKER_REWRAP_PROVIDER_RATE,
      concurrency: 4,
    },
  );
  metrics.gauge("cmek_dek_cache_entries", "Unwrapped DEKs held in memory", () => cache.size);
  metrics.gauge("cmek_dek_cache_hits", "DEK cache hits since start", () => cache.stats.hits);
  metrics.gauge("cmek_dek_cache_misses", "DEK cache misses since start", () => cache.stats.misses);
  const kmipCredentials = deps.kmipCredentials ?? new KmipCredentialStore(db, config);
  return { db, config, providers, registry, cache, kms, keys, locks, bus, tokens, audit, metrics, health, prober, logger, backgroundErrors, vendorFaults, clock, governance, usage, alerts, kmipCredentials, lifecycle, failover };
}

export interface BackgroundLoops {
  stop(): Promise<void>;
}

/** Subscribes to cluster events, starts listening, the prober and the periodic loops. */
export async function startBrokerContext(ctx: BrokerContext): Promise<BackgroundLoops> {
  const { bus, registry, keys, tokens, cache, backgroundErrors } = ctx;
  bus.onEvent((e) => {
    if (e.origin === bus.instanceId) return;
    if (e.type === "tenant_changed") {
      registry.invalidate(e.tenantId);
      keys.forgetTenant(e.tenantId);
    } else if (e.type === "tokens_changed") {
      tokens.invalidateTenant(e.tenantId);
    } else if (e.type === "governance_changed") {
      ctx.governance.invalidate(e.tenantId);
    } else if (e.type === "failover_drill") {
      ctx.failover.force(e.tenantId, e.classId, e.until);
    }
  });
  bus.onGap(() => void backgroundErrors.guard("cluster.resync", () => resyncAfterGap(ctx)));
  await bus.start();
  await bus.publish({ type: "heartbeat", cachedTenants: 0 });
  const timers: NodeJS.Timeout[] = [];
  const every = (task: string, ms: number, fn: () => unknown) => {
    const t = setInterval(() => void backgroundErrors.guard(task, fn), ms);
    t.unref();
    timers.push(t);
  };
  every("dek.sweep", 1000, () => cache.sweep());
  every("cluster.heartbeat", 5000, () => bus.publish({ type: "heartbeat", cachedTenants: cache.tenantsWithCachedKeys().size }));
  every("tokens.flush_last_used", 30_000, () => tokens.flushLastUsed());
  // Closes finished minutes of the usage baselines (a no-op until a minute has passed on ctx.clock).
  every("governance.alerts", 5000, () => ctx.usage.evaluate());
  ctx.prober.start();
  ctx.lifecycle.start();
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await ctx.prober.stop();
      await ctx.lifecycle.stop();
      await backgroundErrors.guard("tokens.flush_last_used", () => tokens.flushLastUsed());
      await bus.stop();
      ctx.vendorFaults.stop();
      cache.clear();
    },
  };
}
