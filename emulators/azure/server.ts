// Wire-compatible Azure Key Vault / Managed HSM emulator plus a minimal Entra ID token
// endpoint on the same HTTPS origin, so the broker runs the real @azure/keyvault-keys and
// @azure/identity clients against it. Protocol facts: /work/shared/KMS-NOTES.md section 2.
//
// The emulator is ONE vault owned by ONE Entra tenant (AZURE_EMULATOR_DEMO_TENANT), as in
// Azure. Principals of other tenants (the broker vendor's multi-tenant app) must obtain a
// token *for the vault's tenant*, which the real ClientSecretCredential does when the
// challenge names that tenant and `additionallyAllowedTenants` permits it.
//
// Layout: store.ts (state + persistence), keys.ts (material, wrap/unwrap), service.ts (vault
// operations, RBAC, routes), entra.ts (token endpoint), transport.ts (HTTPS, auth, faults); this
// file composes them with the shared control plane (../control).

import { ControlPlane, type CallCounter, type FaultInjector } from "../control";
import { loadOrCreateTls } from "./certs";
import { createVaultService } from "./service";
import { VaultStore, type AzurePrincipal } from "./store";
import { startAzureTransport } from "./transport";

export type { AzurePrincipal } from "./store";
export interface AzureKeyVaultEmulator {
  /** "https://localhost:<port>"; keys live at the origin root because the SDK's key-id parser requires it. */
  vaultUrl: string;
  port: number;
  caPem: string;
  caFile: string;
  /** Same origin as the vault: pass as `authorityHost` to ClientSecretCredential. */
  authorityHost: string;
  faults: FaultInjector;
  calls: CallCounter;
  /** TLS connections accepted since start (clients that keep connections alive add few). */
  tlsConnections(): number;
  addPrincipal(p: AzurePrincipal): void;
  setAccess(keyName: string, clientId: string, allowed: boolean): void;
  close(): Promise<void>;
}

/** The broker's own (multi-tenant) app registration. */
export const AZURE_EMULATOR_VENDOR: AzurePrincipal = Object.freeze({
  tenantId: "11111111-1111-4111-8111-111111111111",
  clientId: "a0a0a0a0-0000-4000-8000-00000000b40c",
  clientSecret: "emulator-vendor-secret-not-for-production",
});

/** The demo customer's tenant and app registration; the emulated vault belongs to this tenant. */
export const AZURE_EMULATOR_DEMO_TENANT: AzurePrincipal = Object.freeze({
  tenantId: "22222222-2222-4222-8222-222222222222",
  clientId: "d0d0d0d0-0000-4000-8000-0000000de307",
  clientSecret: "emulator-demo-tenant-secret-not-for-production",
});

export interface AzureKeyVaultEmulatorOptions {
  /** Default 4598; 0 picks a free port. */
  port?: number;
  host?: string;
  /** Where the emulator's CA and server certificate live (created on first start). */
  dataDir?: string;
  stateFile?: string;
  /** Variable named in the error when the port is taken (launch.ts passes CMEK_EMULATOR_AZURE_PORT). */
  portEnvVar?: string;
}

const VAULT_TENANT_ID = AZURE_EMULATOR_DEMO_TENANT.tenantId;

export async function startAzureKeyVaultEmulator(opts: AzureKeyVaultEmulatorOptions = {}): Promise<AzureKeyVaultEmulator> {
  const tls = await loadOrCreateTls(opts.dataDir ?? "./data");
  const store = new VaultStore([AZURE_EMULATOR_VENDOR, AZURE_EMULATOR_DEMO_TENANT], opts.stateFile);
  const control = new ControlPlane([
    {
      method: "POST",
      path: "/_emulator/principals",
      run: (body) => {
        const p = store.addPrincipal(body);
        return { status: 201, body: { tenantId: p.tenantId, clientId: p.clientId } };
      },
    },
    {
      method: "PUT",
      path: "/_emulator/access",
      run: (body) => {
        const b = (body ?? {}) as Record<string, unknown>;
        store.setAccess(b.keyName, b.clientId, b.allowed, b.role);
        return { status: 200, body: { keyName: b.keyName, clientId: b.clientId, allowed: b.allowed, role: b.role ?? "crypto_service_encryption_user" } };
      },
    },
  ]);
  const vault = createVaultService(store, VAULT_TENANT_ID);
  const transport = await startAzureTransport(store, vault, control, { key: tls.serverKeyPem, cert: tls.serverCertPem }, VAULT_TENANT_ID, {
    port: opts.port ?? 4598,
    host: opts.host ?? "127.0.0.1",
    label: { emulator: "Azure Key Vault emulator", ...(opts.portEnvVar ? { envVar: opts.portEnvVar } : {}) },
  });

  return {
    vaultUrl: transport.origin,
    port: transport.port,
    caPem: tls.caPem,
    caFile: tls.caFile,
    authorityHost: transport.origin,
    faults: control.faults,
    calls: control.calls,
    tlsConnections: transport.tlsConnections,
    addPrincipal: (p) => void store.addPrincipal(p),
    setAccess: (keyName, clientId, allowed) => store.setAccess(keyName, clientId, allowed),
    close: async () => {
      control.close();
      await transport.close();
    },
  };
}
