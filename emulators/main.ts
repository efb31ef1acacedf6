// `npm run emulators`: the three KMS emulators on their documented ports (override with
// CMEK_EMULATOR_AWS_PORT / _AZURE_PORT / _GCP_PORT / _GCP_CONTROL_PORT or --aws-port,
// --azure-port, --gcp-port, --gcp-control-port; 0 = any free port), state kept in ./data.
import { emulatorPortOverrides, isEmulatorStartError, startEmulators, type EmulatorSet } from "./launch";

const dataDir = process.env.DATA_DIR ?? "./data";
let set: EmulatorSet;
try {
  set = await startEmulators({ dataDir, persist: true, ports: emulatorPortOverrides() });
} catch (e) {
  if (!isEmulatorStartError(e)) throw e;
  console.error(e.message);
  process.exit(1);
}
console.log(`AWS KMS emulator          ${set.aws.url} (control: ${set.aws.url}/_emulator/)`);
console.log(`Azure Key Vault emulator  ${set.azure.vaultUrl} (CA: ${set.azure.caFile}; control: ${set.azure.vaultUrl}/_emulator/)`);
console.log(`Google Cloud KMS emulator 127.0.0.1:${set.gcp.grpcPort} gRPC (control: ${set.gcp.controlUrl}/_emulator/)`);
console.log("\nPoint a broker at them with:");
for (const [k, v] of Object.entries(set.brokerEnv)) console.log(`  export ${k}=${JSON.stringify(v)}`);
const stop = async () => {
  await set.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
