// Starts real emulators, a fresh PostgreSQL database and a broker instance on a free port.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "@/emulators/tenant-actions";
import { ADMIN_TOKEN, ApiClient } from "@/testkit/api-client";
import { createTestDatabase, type TestDatabase } from "@/testkit/postgres";

// Tests import the client and the admin token from here as well as from testkit/.
export { ADMIN_TOKEN, ApiClient, type ApiResponse } from "@/testkit/api-client";

export interface Harness {
  emulators: EmulatorSet;
  database: TestDatabase;
  runtime: BrokerRuntime;
  dataDir: string;
  aws: AwsTenantActions;
  azure: AzureTenantActions;
  gcp: GcpTenantActions;
  api: ApiClient;
  env: Record<string, string>;
  startInstance(extra?: Record<string, string>): Promise<BrokerRuntime>;
  close(): Promise<void>;
}

export async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-test-"));
  const emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  const database = await createTestDatabase();
  const env: Record<string, string> = {
    NODE_ENV: "test",
    PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
    BROKER_LOG_LEVEL: "silent",
    BROKER_KMS_TIMEOUT_MS: "1000",
    ...emulators.brokerEnv,
    ...extraEnv,
  };
  const instances: BrokerRuntime[] = [];
  const startInstance = async (extra: Record<string, string> = {}) => {
    const rt = await startBrokerRuntime({ config: loadConfig({ ...env, ...extra }) });
    instances.push(rt);
    return rt;
  };
  const runtime = await startInstance();
  const aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  const azure = new AzureTenantActions(emulators.azure.vaultUrl, emulators.azure.caPem, emulators.azure.authorityHost);
  const gcp = new GcpTenantActions("127.0.0.1", emulators.gcp.grpcPort);
  return {
    emulators,
    database,
    runtime,
    dataDir,
    aws,
    azure,
    gcp,
    env,
    api: new ApiClient(runtime.url),
    startInstance,
    async close() {
      // A runtime that fails to close must not keep the rest of the harness from being torn down.
      for (const i of instances) await i.close().catch(() => {});
      aws.close();
      await gcp.close();
      await emulators.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
