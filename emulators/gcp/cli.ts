// Standalone runner: `npx tsx emulators/gcp/cli.ts` (env GCP_KMS_EMULATOR_PORT, GCP_KMS_EMULATOR_CONTROL_PORT,
// GCP_KMS_EMULATOR_HOST, GCP_KMS_EMULATOR_STATE_FILE).
import { GCP_EMULATOR_DEMO_TENANT, GCP_EMULATOR_VENDOR, startGcpKmsEmulator } from "./server";

const num = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
const port = num(process.env.GCP_KMS_EMULATOR_PORT);
const controlPort = num(process.env.GCP_KMS_EMULATOR_CONTROL_PORT);
const host = process.env.GCP_KMS_EMULATOR_HOST;
const stateFile = process.env.GCP_KMS_EMULATOR_STATE_FILE;

const emu = await startGcpKmsEmulator({
  ...(port !== undefined ? { port } : {}),
  ...(controlPort !== undefined ? { controlPort } : {}),
  ...(host ? { host } : {}),
  ...(stateFile ? { stateFile } : {}),
  portEnvVar: "GCP_KMS_EMULATOR_PORT",
  controlPortEnvVar: "GCP_KMS_EMULATOR_CONTROL_PORT",
});
console.log(
  JSON.stringify({
    gcpKmsEmulator: { grpc: `${host ?? "127.0.0.1"}:${emu.grpcPort}`, control: emu.controlUrl },
    principals: { vendor: GCP_EMULATOR_VENDOR, demoTenant: GCP_EMULATOR_DEMO_TENANT },
  }),
);
const stop = () => void emu.close().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
