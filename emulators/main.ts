// `npm run emulators`: the three KMS emulators on their documented ports, state kept in ./data.
import { startEmulators } from "./launch";

const dataDir = process.env.DATA_DIR ?? "./data";
const set = await startEmulators({ dataDir, persist: true });
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
