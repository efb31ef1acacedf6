// Wires the vendor-fault monitor and its canary from server configuration (kept out of broker.ts,
// which only calls this).
import type { Registry } from "prom-client";
import type { BrokerConfig } from "../config/env";
import type { Database } from "../db/database";
import type { KmsProviders } from "../kms/registry";
import { VendorCanary } from "../kms/vendor-canary";
import { createLogger, type Logger } from "../observability/logger";
import { VendorFaultMonitor } from "./vendor-faults";

export function createVendorFaultMonitor(
  deps: { db: Database; config: BrokerConfig; providers: KmsProviders; logger?: Logger },
  registry: Registry,
): VendorFaultMonitor {
  const { config } = deps;
  const aws = config.BROKER_AWS_CANARY_KEY_ARN;
  const keys = {
    ...(aws.length ? { aws } : {}),
    ...(config.BROKER_AZURE_CANARY_KEY_ID ? { azure: config.BROKER_AZURE_CANARY_KEY_ID } : {}),
    ...(config.BROKER_GCP_CANARY_KEY_NAME ? { gcp: config.BROKER_GCP_CANARY_KEY_NAME } : {}),
  };
  const canary = Object.keys(keys).length ? new VendorCanary(deps.providers, keys, config.BROKER_VENDOR_CANARY_TTL_MS) : null;
  const logger = deps.logger ?? createLogger({ level: config.BROKER_LOG_LEVEL, instanceId: config.instanceId });
  return new VendorFaultMonitor({ db: deps.db, logger, registry, instanceId: config.instanceId, canary });
}
