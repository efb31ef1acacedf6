// Standalone runner: `tsx emulators/azure/main.ts` serves the Azure emulator on 4598 with its
// state in ./data, for manual runs and for processes that trust it via NODE_EXTRA_CA_CERTS.
import { join } from "node:path";
import { AZURE_EMULATOR_DEMO_TENANT, AZURE_EMULATOR_VENDOR, startAzureKeyVaultEmulator } from "./server";

const dataDir = process.env.AZURE_EMULATOR_DATA_DIR ?? "./data";
const emu = await startAzureKeyVaultEmulator({
  port: Number(process.env.AZURE_EMULATOR_PORT ?? 4598),
  dataDir,
  stateFile: join(dataDir, "azure-emulator-state.json"),
  portEnvVar: "AZURE_EMULATOR_PORT",
});
console.log(
  JSON.stringify({
    vaultUrl: emu.vaultUrl,
    authorityHost: emu.authorityHost,
    caFile: emu.caFile,
    vendor: { tenantId: AZURE_EMULATOR_VENDOR.tenantId, clientId: AZURE_EMULATOR_VENDOR.clientId },
    demoTenant: { tenantId: AZURE_EMULATOR_DEMO_TENANT.tenantId, clientId: AZURE_EMULATOR_DEMO_TENANT.clientId },
  }),
);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => void emu.close().then(() => process.exit(0)));
}
