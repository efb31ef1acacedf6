// The broker's services, assembled once per instance by lib/runtime/broker-context.ts and
// handed to every operation (lib/broker/operations). Declared here, as types only, so the
// domain depends on nothing above it; operations name the part they use with Pick<>.
import type { AuditSink } from "../audit/types";
import type { BrokerConfig } from "../config/env";
import type { Database } from "../db/database";
import type { KmsProviders } from "../kms/registry";
import type { BackgroundErrors } from "../observability/background-errors";
import type { Logger } from "../observability/logger";
import type { Clock } from "./clock";
import type { ClusterBus } from "./cluster-bus";
import type { DataKeyService } from "./data-keys";
import type { DekCache } from "./dek-cache";
import type { FailoverMonitor } from "./failover-monitor";
import type { KeyHealthTracker } from "./key-health";
import type { KmsGateway } from "./kms-gateway";
import type { AlertStore } from "./governance/alert-store";
import type { GovernanceStore } from "./governance/policy-store";
import type { UsageMonitor } from "./governance/usage-monitor";
import type { KmipCredentialStore } from "./kmip-credentials";
import type { RewrapWorker } from "./lifecycle/rewrap-worker";
import type { KmsMetrics } from "./metrics";
import type { Prober } from "./prober";
import type { ServiceTokenStore } from "./service-tokens";
import type { TenantLockService } from "./tenant-lock";
import type { TenantRegistry } from "./tenant-registry";
import type { VendorFaultMonitor } from "./vendor-faults";

export interface BrokerContext {
  readonly db: Database;
  readonly config: BrokerConfig;
  readonly providers: KmsProviders;
  readonly registry: TenantRegistry;
  readonly cache: DekCache;
  readonly kms: KmsGateway;
  readonly keys: DataKeyService;
  readonly locks: TenantLockService;
  readonly bus: ClusterBus;
  readonly tokens: ServiceTokenStore;
  readonly audit: AuditSink;
  readonly metrics: KmsMetrics;
  readonly health: KeyHealthTracker;
  readonly prober: Prober;
  readonly logger: Logger;
  readonly backgroundErrors: BackgroundErrors;
  /** Tells the broker's own credential faults from tenant revocations (lib/broker/vendor-faults.ts). */
  readonly vendorFaults: VendorFaultMonitor;
  /** "Now" for access windows, break-glass and usage baselines; tests inject one (lib/broker/clock.ts). */
  readonly clock: Clock;
  /** Each tenant's purpose policies, access windows and alert thresholds (lib/broker/governance). */
  readonly governance: GovernanceStore;
  readonly usage: UsageMonitor;
  readonly alerts: AlertStore;
  /** Per-tenant KMIP client identities and server CAs (lib/broker/kmip-credentials.ts). */
  readonly kmipCredentials: KmipCredentialStore;
  /** Re-wrap jobs: key switch and rotation migrations (lib/broker/lifecycle). */
  readonly lifecycle: RewrapWorker;
  /** Failovers to secondary keys and failover drills seen by this instance (issue 12). */
  readonly failover: FailoverMonitor;
}
