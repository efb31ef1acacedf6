// Starts the three KMS emulators together and says how to point a broker at them.
//
// Ports: DEFAULT_EMULATOR_PORTS unless overridden, by `ports` here, or (npm run emulators,
// npm start) by the variables in EMULATOR_PORT_ENV or the matching --*-port flags. A port
// that is taken fails the start with a PortInUseError naming the port and the variable to set;
// emulators already started are closed again.
import path from "node:path";
import { z } from "zod";
import { zodMessage } from "./control";
import { PortInUseError } from "./http";
import { AWS_EMULATOR_UNGRANTED, AWS_EMULATOR_VENDOR, startAwsKmsEmulator, type AwsKmsEmulator, type AwsPrincipal } from "./aws/server";
import { AZURE_EMULATOR_VENDOR, startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from "./azure/server";
import { GCP_EMULATOR_VENDOR, startGcpKmsEmulator, type GcpKmsEmulator } from "./gcp/server";

export { PortInUseError } from "./http";

export const DEFAULT_EMULATOR_PORTS = { aws: 4599, azure: 4598, gcp: 4597, gcpControl: 4596 } as const;
export type EmulatorPorts = Record<keyof typeof DEFAULT_EMULATOR_PORTS, number>;

/** The variables that override each port (0 = any free port). */
export const EMULATOR_PORT_ENV = {
  aws: "CMEK_EMULATOR_AWS_PORT",
  azure: "CMEK_EMULATOR_AZURE_PORT",
  gcp: "CMEK_EMULATOR_GCP_PORT",
  gcpControl: "CMEK_EMULATOR_GCP_CONTROL_PORT",
} as const satisfies Record<keyof EmulatorPorts, string>;

/** The command-line flags of `npm run emulators` (and `npm start`) for the same ports. */
export const EMULATOR_PORT_FLAGS = {
  aws: "--aws-port",
  azure: "--azure-port",
  gcp: "--gcp-port",
  gcpControl: "--gcp-control-port",
} as const satisfies Record<keyof EmulatorPorts, string>;

export class EmulatorConfigError extends Error {
  override name = "EmulatorConfigError";
}

const portSchema = z
  .string()
  .regex(/^\d{1,5}$/, "must be a port number 0..65535")
  .transform(Number)
  .pipe(z.number().max(65535, "must be a port number 0..65535"));

function parsePorts(
  source: Partial<Record<keyof EmulatorPorts, string | undefined>>,
  names: Record<keyof EmulatorPorts, string>,
  emptyMeansDefault: boolean,
): Partial<EmulatorPorts> {
  const out: Partial<EmulatorPorts> = {};
  const problems: string[] = [];
  for (const k of Object.keys(names) as Array<keyof EmulatorPorts>) {
    const raw = source[k];
    if (raw === undefined || (emptyMeansDefault && raw.trim() === "")) continue;
    const r = portSchema.safeParse(raw.trim());
    if (r.success) out[k] = r.data;
    else problems.push(`${names[k]}=${JSON.stringify(raw)}: ${zodMessage(r.error)}`);
  }
  if (problems.length) throw new EmulatorConfigError(`Invalid emulator port: ${problems.join("; ")}`);
  return out;
}

/** Port overrides from CMEK_EMULATOR_*_PORT; throws EmulatorConfigError naming every bad value. */
export function emulatorPortsFromEnv(env: Record<string, string | undefined> = process.env): Partial<EmulatorPorts> {
  const source = Object.fromEntries(Object.entries(EMULATOR_PORT_ENV).map(([k, v]) => [k, env[v]]));
  return parsePorts(source, EMULATOR_PORT_ENV, true);
}

/** Port overrides from `--aws-port=4609` or `--aws-port 4609` style flags; other arguments are ignored. */
export function emulatorPortsFromArgs(argv: readonly string[]): Partial<EmulatorPorts> {
  const source: Partial<Record<keyof EmulatorPorts, string>> = {};
  for (const [k, flag] of Object.entries(EMULATOR_PORT_FLAGS) as Array<[keyof EmulatorPorts, string]>) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === flag) source[k] = argv[i + 1]?.startsWith("--") === false ? argv[i + 1] : "";
      else if (a.startsWith(`${flag}=`)) source[k] = a.slice(flag.length + 1);
    }
  }
  return parsePorts(source, EMULATOR_PORT_FLAGS, false);
}

/** Flags win over variables, variables over the defaults. */
export function emulatorPortOverrides(argv: readonly string[] = process.argv.slice(2), env: Record<string, string | undefined> = process.env): Partial<EmulatorPorts> {
  return { ...emulatorPortsFromEnv(env), ...emulatorPortsFromArgs(argv) };
}

export interface EmulatorSet {
  aws: AwsKmsEmulator;
  azure: AzureKeyVaultEmulator;
  gcp: GcpKmsEmulator;
  /** Environment that makes a broker use these emulators with the vendor's identities. */
  brokerEnv: Record<string, string>;
  /**
   * brokerEnv with the AWS identity swapped for AWS_EMULATOR_UNGRANTED: valid credentials of a
   * principal without grants, so every tenant key answers AccessDeniedException naming that ARN.
   */
  ungrantedBrokerEnv: Record<string, string>;
  /** brokerEnv with the AWS identity swapped for any principal (add it with aws.addPrincipal first). */
  brokerEnvWithAwsIdentity(p: AwsPrincipal): Record<string, string>;
  close(): Promise<void>;
}

export interface StartEmulatorsOptions {
  dataDir: string;
  /** 0 = any free port (tests); defaults to the documented ports. */
  ports?: Partial<EmulatorPorts>;
  /** Keep emulator state in dataDir across restarts (npm start). */
  persist?: boolean;
}

export async function startEmulators(opts: StartEmulatorsOptions): Promise<EmulatorSet> {
  const ports = { ...DEFAULT_EMULATOR_PORTS, ...opts.ports };
  const state = (name: string) => (opts.persist ? path.join(opts.dataDir, `emulator-${name}.json`) : undefined);
  const started: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(e: T): T => (started.push(e), e);
  let aws: AwsKmsEmulator, azure: AzureKeyVaultEmulator, gcp: GcpKmsEmulator;
  try {
    aws = track(await startAwsKmsEmulator({ port: ports.aws, stateFile: state("aws"), portEnvVar: EMULATOR_PORT_ENV.aws }));
    azure = track(
      await startAzureKeyVaultEmulator({ port: ports.azure, dataDir: opts.dataDir, stateFile: state("azure"), portEnvVar: EMULATOR_PORT_ENV.azure }),
    );
    gcp = track(
      await startGcpKmsEmulator({
        port: ports.gcp,
        controlPort: ports.gcpControl,
        stateFile: state("gcp"),
        portEnvVar: EMULATOR_PORT_ENV.gcp,
        controlPortEnvVar: EMULATOR_PORT_ENV.gcpControl,
      }),
    );
  } catch (e) {
    await Promise.all(started.map((s) => s.close()));
    throw e;
  }
  const withAws = (p: AwsPrincipal): Record<string, string> => ({
    AWS_ENDPOINT_URL_KMS: aws.url,
    // The SDK's STS client honours this too, for GetCallerIdentity against the emulator.
    AWS_ENDPOINT_URL_STS: aws.url,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
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
  });
  return {
    aws,
    azure,
    gcp,
    brokerEnv: withAws(AWS_EMULATOR_VENDOR),
    ungrantedBrokerEnv: withAws(AWS_EMULATOR_UNGRANTED),
    brokerEnvWithAwsIdentity: withAws,
    async close() {
      await Promise.all([aws.close(), azure.close(), gcp.close()]);
    },
  };
}

/** True for the errors a start script should print as one line (no stack) before exiting 1. */
export const isEmulatorStartError = (e: unknown): e is Error => e instanceof PortInUseError || e instanceof EmulatorConfigError;
