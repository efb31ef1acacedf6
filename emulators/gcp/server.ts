// Wire-compatible Google Cloud KMS emulator: serves google.cloud.kms.v1.KeyManagementService and
// google.iam.v1.IAMPolicy over plaintext gRPC (HTTP/2), so the unmodified @google-cloud/kms
// client can be pointed at it. Identity comes from `authorization: Bearer <token>` metadata,
// because with insecure channel credentials the client sends no credentials of its own.
//
// Layout: store.ts (state + persistence), names.ts / errors.ts / wire.ts (resource names, gRPC
// errors, message shapes and ciphertext), service.ts (auth, IAM, lookups), ops-*.ts (handlers),
// transport.ts (gRPC + control HTTP); this file composes them with the shared control plane.
import { z } from "zod";
import { ControlPlane, parseWith, type CallCounter, type FaultInjector } from "../control";
import { urlHost } from "../http";
import { PROJECT } from "./names";
import { cryptoHandlers } from "./ops-crypto";
import { iamHandlers } from "./ops-iam";
import { keyHandlers } from "./ops-keys";
import { versionHandlers } from "./ops-versions";
import { GcpKmsService, MEMBER_RE, type GcpPrincipal } from "./service";
import { KmsStore } from "./store";
import { startGcpTransport } from "./transport";

export type { GcpPrincipal } from "./service";

export interface GcpKmsEmulator {
  grpcPort: number;
  controlUrl: string;
  faults: FaultInjector;
  calls: CallCounter;
  addPrincipal(p: GcpPrincipal): void;
  close(): Promise<void>;
}

export interface GcpKmsEmulatorOptions {
  /** gRPC port, default 4597; 0 picks a free port. */
  port?: number;
  /** Control-plane HTTP port, default 4596; 0 picks a free port. */
  controlPort?: number;
  host?: string;
  stateFile?: string;
  /** Variables named in the error when a port is taken (launch.ts passes CMEK_EMULATOR_GCP_PORT / ..._GCP_CONTROL_PORT). */
  portEnvVar?: string;
  controlPortEnvVar?: string;
}

export const GCP_EMULATOR_VENDOR: GcpPrincipal = Object.freeze({
  token: "gcp-emulator-vendor-token",
  member: "serviceAccount:cmek-broker@vendor-prod.iam.gserviceaccount.com",
});

export const GCP_EMULATOR_DEMO_TENANT: GcpPrincipal = Object.freeze({
  token: "gcp-emulator-demo-tenant-token",
  member: "user:admin@demo-tenant.example",
  ownerOfProjects: Object.freeze(["demo-tenant-project"]) as string[],
});

const principalSchema = z.object({
  token: z.string().regex(/^\S{8,}$/, "token must be a string of at least 8 non-space characters"),
  member: z
    .string()
    .refine((m) => MEMBER_RE.test(m) && !m.startsWith("all"), 'member must look like "user:…", "serviceAccount:…", "group:…" or "domain:…"'),
  ownerOfProjects: z.array(z.string().regex(new RegExp(`^${PROJECT}$`), "ownerOfProjects must be an array of project ids")).optional(),
});

export async function startGcpKmsEmulator(opts: GcpKmsEmulatorOptions = {}): Promise<GcpKmsEmulator> {
  const host = opts.host ?? "127.0.0.1";
  const store = new KmsStore(opts.stateFile);
  const service = new GcpKmsService(store);
  for (const p of [GCP_EMULATOR_VENDOR, GCP_EMULATOR_DEMO_TENANT, ...store.extraPrincipals]) service.principals.set(p.token, p);

  function addPrincipal(v: unknown): GcpPrincipal {
    const p = parseWith(principalSchema, v);
    const rec: GcpPrincipal = { token: p.token, member: p.member, ...(p.ownerOfProjects ? { ownerOfProjects: [...p.ownerOfProjects] } : {}) };
    service.principals.set(p.token, rec);
    store.extraPrincipals = store.extraPrincipals.filter((x) => x.token !== p.token).concat([rec]);
    store.save();
    return rec;
  }

  const control = new ControlPlane([
    { method: "POST", path: "/_emulator/principals", run: (body) => ({ status: 201, body: { member: addPrincipal(body).member } }) },
  ]);
  const transport = await startGcpTransport(
    service,
    { kms: { ...keyHandlers, ...versionHandlers, ...cryptoHandlers }, iam: iamHandlers },
    control,
    {
      host,
      port: opts.port ?? 4597,
      controlPort: opts.controlPort ?? 4596,
      label: { emulator: "Google Cloud KMS emulator (gRPC)", ...(opts.portEnvVar ? { envVar: opts.portEnvVar } : {}) },
      controlLabel: { emulator: "Google Cloud KMS emulator (control)", ...(opts.controlPortEnvVar ? { envVar: opts.controlPortEnvVar } : {}) },
    },
  );

  let closed = false;
  return {
    grpcPort: transport.grpcPort,
    controlUrl: `http://${urlHost(host)}:${transport.controlPort}`,
    faults: control.faults,
    calls: control.calls,
    addPrincipal: (p) => void addPrincipal(p),
    async close() {
      if (closed) return;
      closed = true;
      control.close();
      await transport.close();
    },
  };
}
