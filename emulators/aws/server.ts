// A wire-compatible AWS KMS emulator (HTTP/1.1, AWS JSON 1.1, full SigV4 verification) that the
// real @aws-sdk/client-kms talks to unmodified. It models what the broker's lock decisions depend
// on: per-account key ownership, grants, key policies with encryption-context conditions, key
// states, tags, and the exact error names and messages a real endpoint returns for each.
//
// Layout: store.ts (state + persistence), blob.ts / policy.ts (ciphertext, policy evaluation),
// service.ts + ops-*.ts (operations), transport.ts (HTTP, SigV4, faults), sts.ts
// (GetCallerIdentity); this file composes them with the shared control plane (../control).
import { z } from "zod";
import { ControlPlane, parseWith, type CallCounter, type FaultInjector } from "../control";
import { urlHost } from "../http";
import { cryptoOperations } from "./ops-crypto";
import { grantOperations } from "./ops-grants";
import { keyOperations } from "./ops-keys";
import { rotationOperations } from "./ops-rotation";
import { reEncryptOperations } from "./ops-reencrypt";
import { KmsService } from "./service";
import { KmsStore, type AwsPrincipal } from "./store";
import { startAwsTransport } from "./transport";

export type { AwsPrincipal } from "./store";

export const AWS_EMULATOR_VENDOR: AwsPrincipal = {
  accessKeyId: "AKIACMEKBROKERVENDOR",
  secretAccessKey: "emulator-vendor-secret-0000000000000000000",
  accountId: "111111111111",
  arn: "arn:aws:iam::111111111111:role/cmek-broker",
};

export const AWS_EMULATOR_DEMO_TENANT: AwsPrincipal = {
  accessKeyId: "AKIACMEKDEMOTENANT22",
  secretAccessKey: "emulator-tenant-secret-000000000000000000",
  accountId: "222222222222",
  arn: "arn:aws:iam::222222222222:user/tenant-admin",
};

/**
 * A valid identity in the vendor's account without any KMS permission (no grants, no key-policy
 * statement, no IAM policy): a broker started with it authenticates fine but gets
 * AccessDeniedException naming this ARN on every tenant key, and on the vendor's own keys too
 * (the "vendor-side credential mistake" of issue 10 #4; a vendor-owned canary key tells them apart).
 */
export const AWS_EMULATOR_UNGRANTED: AwsPrincipal = {
  accessKeyId: "AKIACMEKUNGRANTED033",
  secretAccessKey: "emulator-ungranted-secret-00000000000000",
  accountId: "111111111111",
  arn: "arn:aws:iam::111111111111:user/cmek-broker-ungranted",
  iamKmsAccess: false,
};

export interface AwsKmsEmulator {
  url: string;
  port: number;
  region: string;
  faults: FaultInjector;
  calls: CallCounter;
  addPrincipal(p: AwsPrincipal): void;
  close(): Promise<void>;
}

export interface AwsKmsEmulatorOptions {
  /** Default 4599; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default us-east-1. Requests signed for another region are refused, as a regional endpoint does. */
  region?: string;
  /** JSON file for keys (with material), grants, aliases, tags and principals; loaded on start. */
  stateFile?: string;
  /** Variable named in the error when the port is taken (launch.ts passes CMEK_EMULATOR_AWS_PORT). */
  portEnvVar?: string;
}

const principalSchema = z
  .object({
    accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, "accessKeyId must be 16-128 uppercase letters or digits"),
    secretAccessKey: z.string().min(1, "secretAccessKey is required"),
    accountId: z.string().regex(/^\d{12}$/, "accountId must be 12 digits"),
    arn: z.string(),
    iamKmsAccess: z.boolean().optional(),
  })
  .refine((p) => p.arn.startsWith(`arn:aws:iam::${p.accountId}:`), { message: "arn must start with arn:aws:iam::<accountId>:", path: ["arn"] });

export async function startAwsKmsEmulator(opts: AwsKmsEmulatorOptions = {}): Promise<AwsKmsEmulator> {
  const region = opts.region ?? "us-east-1";
  const host = opts.host ?? "127.0.0.1";
  const store = new KmsStore(region, opts.stateFile);
  for (const p of [AWS_EMULATOR_VENDOR, AWS_EMULATOR_DEMO_TENANT, AWS_EMULATOR_UNGRANTED]) {
    if (!store.principalsByAkid.has(p.accessKeyId)) store.addPrincipal(p);
  }
  const addPrincipal = (v: unknown): AwsPrincipal => {
    const p = parseWith(principalSchema, v);
    store.addPrincipal(p);
    return p;
  };
  const control = new ControlPlane([
    {
      method: "POST",
      path: "/_emulator/principals",
      run: (body) => {
        const p = addPrincipal(body);
        return { status: 201, body: { accessKeyId: p.accessKeyId, accountId: p.accountId, arn: p.arn } };
      },
    },
  ]);
  const transport = await startAwsTransport(new KmsService(store, { ...keyOperations, ...cryptoOperations, ...grantOperations, ...rotationOperations, ...reEncryptOperations }), control, {
    port: opts.port ?? 4599,
    host,
    label: { emulator: "AWS KMS emulator", ...(opts.portEnvVar ? { envVar: opts.portEnvVar } : {}) },
  });

  return {
    url: `http://${urlHost(host)}:${transport.port}`,
    port: transport.port,
    region,
    faults: control.faults,
    calls: control.calls,
    addPrincipal: (p) => void addPrincipal(p),
    close: async () => {
      control.close();
      await transport.close();
      store.flush();
    },
  };
}
