// Starts the three KMS emulators together and says how to point a broker at them.
import path from "node:path";
import { AWS_EMULATOR_VENDOR, startAwsKmsEmulator, type AwsKmsEmulator } from "./aws/server";
import { AZURE_EMULATOR_VENDOR, startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from "./azure/server";
import { GCP_EMULATOR_VENDOR, startGcpKmsEmulator, type GcpKmsEmulator } from "./gcp/server";

export const DEFAULT_EMULATOR_PORTS = { aws: 4599, azure: 4598, gcp: 4597, gcpControl: 4596 } as const;

export interface EmulatorSet {
  aws: AwsKmsEmulator;
  azure: AzureKeyVaultEmulator;
  gcp: GcpKmsEmulator;
  /** Environment that makes a broker use these emulators with the vendor's identities. */
  brokerEnv: Record<string, string>;
  close(): Promise<void>;
}

export interface StartEmulatorsOptions {
  dataDir: string;
  /** 0 = any free port (tests); defaults to the documented ports. */
  ports?: Partial<Record<keyof typeof DEFAULT_EMULATOR_PORTS, number>>;
  /** Keep emulator state in dataDir across restarts (npm start). */
  persist?: boolean;
}

export async function startEmulators(opts: StartEmulatorsOptions): Promise<EmulatorSet> {
  const ports = { ...DEFAULT_EMULATOR_PORTS, ...opts.ports };
  const state = (name: string) => (opts.persist ? path.join(opts.dataDir, `emulator-${name}.json`) : undefined);
  const aws = await startAwsKmsEmulator({ port: ports.aws, stateFile: state("aws") });
  const azure = await startAzureKeyVaultEmulator({ port: ports.azure, dataDir: opts.dataDir, stateFile: state("azure") });
  const gcp = await startGcpKmsEmulator({ port: ports.gcp, controlPort: ports.gcpControl, stateFile: state("gcp") });
  const brokerEnv: Record<string, string> = {
    AWS_ENDPOINT_URL_KMS: aws.url,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: AWS_EMULATOR_VENDOR.accessKeyId,
    AWS_SECRET_ACCESS_KEY: AWS_EMULATOR_VENDOR.secretAccessKey,
    AZURE_TENANT_ID: AZURE_EMULATOR_VENDOR.tenantId,
    AZURE_CLIENT_ID: AZURE_EMULATOR_VENDOR.clientId,
    AZURE_CLIENT_SECRET: AZURE_EMULATOR_VENDOR.clientSecret,
    AZURE_AUTHORITY_HOST: azure.authorityHost,
    AZURE_KEYVAULT_ALLOWED_HOSTS: `.vault.azure.net,.managedhsm.azure.net,localhost:${azure.port}`,
    AZURE_KEYVAULT_CA_FILE: azure.caFile,
    GCP_KMS_ENDPOINT: `127.0.0.1:${gcp.grpcPort}`,
    GCP_KMS_INSECURE_TOKEN: GCP_EMULATOR_VENDOR.token,
    // The identities the console tells tenants to grant: the emulators' vendor principals.
    BROKER_VENDOR_AWS_PRINCIPAL: AWS_EMULATOR_VENDOR.arn,
    BROKER_VENDOR_GCP_SERVICE_ACCOUNT: GCP_EMULATOR_VENDOR.member.replace(/^serviceAccount:/, ""),
  };
  return {
    aws,
    azure,
    gcp,
    brokerEnv,
    async close() {
      await Promise.all([aws.close(), azure.close(), gcp.close()]);
    },
  };
}
