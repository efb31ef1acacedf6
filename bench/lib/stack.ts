// What every scenario stands on: the three KMS emulators (in this process, with their call
// counters and fault injectors at hand), fresh PostgreSQL databases, and broker instances as
// child processes (`node --import tsx server.ts`, console off), each on a free port. With SoftHSM2
// installed, a token store too: every broker serves PKCS#11 keys on its token "bench".
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulators, type EmulatorSet } from "../../emulators/launch";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "../../emulators/tenant-actions";
import { ADMIN_TOKEN, ApiClient } from "../../testkit/api-client";
import { createTestDatabase, type TestDatabase } from "../../testkit/postgres";
import { SoftHsm, softHsmInstalled, type TokenHandle } from "../../testkit/softhsm";
import { startChild, type Child } from "./proc";

export { ADMIN_TOKEN, ApiClient };

export interface Broker extends Child {
  api: ApiClient;
  /** Reads one counter or gauge from /api/metrics, summed over the series matching `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export class Stack {
  private constructor(
    readonly emulators: EmulatorSet,
    readonly dataDir: string,
    readonly aws: AwsTenantActions,
    readonly azure: AzureTenantActions,
    readonly gcp: GcpTenantActions,
    /** SoftHSM2 and its one token, when the package is installed (PKCS#11 rows are skipped otherwise). */
    readonly softhsm: { hsm: SoftHsm; token: TokenHandle } | null,
  ) {}
  private databases: TestDatabase[] = [];
  private children: Child[] = [];

  static async start(): Promise<Stack> {
    const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-bench-"));
    const e = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
    // The token is made with softhsm2-util before any process loads the module: SoftHSM2 fixes a
    // process's slot list when it initialises. Keys are made later, from this process, and the
    // broker children see them (SoftHSM2 re-reads a token's objects from its files).
    let softhsm: Stack["softhsm"] = null;
    if (softHsmInstalled()) {
      const hsm = new SoftHsm();
      softhsm = { hsm, token: hsm.initToken("bench", "bench-pin-1", { viaCli: true }) };
    }
    return new Stack(
      e,
      dataDir,
      new AwsTenantActions(e.aws.url, e.aws.region),
      new AzureTenantActions(e.azure.vaultUrl, e.azure.caPem, e.azure.authorityHost),
      new GcpTenantActions("127.0.0.1", e.gcp.grpcPort),
      softhsm,
    );
  }

  async database(): Promise<TestDatabase> {
    const db = await createTestDatabase("cmek_bench");
    this.databases.push(db);
    return db;
  }

  /** `nodeArgs`: extra flags for node (profiling: --cpu-prof, --trace-gc; see bench/profile-once.ts). */
  async broker(databaseUrl: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Broker> {
    const child = await startChild(
      `broker${env.BROKER_INSTANCE_ID ? ` ${env.BROKER_INSTANCE_ID}` : ""}`,
      process.execPath,
      [...nodeArgs, "--import", "tsx", "server.ts"],
      {
        NODE_ENV: "production",
        PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: this.dataDir,
        DATABASE_URL: databaseUrl,
        BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
        BROKER_CONSOLE: "off",
        BROKER_LOG_LEVEL: "warn",
        ...this.emulators.brokerEnv,
        ...(this.softhsm ? this.softhsm.hsm.brokerEnv() : {}),
        ...env,
      },
      /cmek-broker listening on (http:\/\/\S+)/,
    );
    this.children.push(child);
    const api = new ApiClient(child.url);
    return {
      ...child,
      api,
      async metric(name, labels = {}) {
        const text = (await api.call("GET", "/api/metrics")).body as string;
        let sum = 0;
        for (const line of text.split("\n")) {
          if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
          if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(" ").pop());
        }
        return sum;
      },
    };
  }

  /** Starts a child that is not a broker (ceiling, Next.js) and stops it with the stack. */
  track(child: Child): Child {
    this.children.push(child);
    return child;
  }

  /** Calls a provider's unwrap operation counted at its emulator, optionally for one key only. */
  unwrapCalls(provider: "aws" | "azure" | "gcp", key?: string): number {
    const op = provider === "azure" ? "unwrapkey" : "Decrypt";
    return this.emulators[provider].calls.count(op, key);
  }

  /** All calls counted by the three emulators. */
  totalCalls(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of ["aws", "azure", "gcp"] as const) {
      for (const [op, n] of Object.entries(this.emulators[p].calls.snapshot().operations)) out[`${p}:${op}`] = n;
    }
    return out;
  }

  resetCalls(): void {
    for (const p of ["aws", "azure", "gcp"] as const) this.emulators[p].calls.reset();
  }

  async stopChildren(): Promise<void> {
    await Promise.all(this.children.splice(0).map((c) => c.stop()));
  }

  async close(): Promise<void> {
    await this.stopChildren();
    this.aws.close();
    await this.gcp.close();
    await this.emulators.close();
    for (const db of this.databases) await db.drop().catch(() => {});
    this.softhsm?.hsm.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A tenant ready for the data path on `provider`, with a fresh key granted to the vendor. */
export async function readyTenant(stack: Stack, api: ApiClient, slug: string, provider: "aws" | "azure" | "gcp" | "pkcs11" = "aws") {
  const key = await createVendorKey(stack, provider);
  const token = await connectTenant(api, slug, provider, key.keyId);
  return { slug, token, ...key };
}

/** Creates a tenant, connects its key and returns a service token. On a busy machine the KMS
 * validation can time out (503); the connect is retried then, since that is setup, not measurement. */
export async function connectTenant(api: ApiClient, slug: string, provider: string, keyId: string): Promise<string> {
  await api.createTenant(slug);
  for (let attempt = 1; ; attempt++) {
    const c = await api.connect(slug, provider, keyId);
    if (c.status === 200) break;
    if (c.status !== 503 || attempt >= 5) throw new Error(`connect ${slug}: ${c.status} ${JSON.stringify(c.body)}`);
  }
  return api.token(slug);
}

export async function createVendorKey(stack: Stack, provider: "aws" | "azure" | "gcp" | "pkcs11") {
  if (provider === "pkcs11") {
    if (!stack.softhsm) throw new Error("SoftHSM2 is not installed");
    const label = `k-${randomUUID().slice(0, 8)}`;
    return { provider, keyId: stack.softhsm.hsm.createKey(stack.softhsm.token, label), grantId: undefined, counterKey: label };
  }
  if (provider === "aws") {
    const { keyArn, grantId } = await stack.aws.createKeyForVendor();
    return { provider, keyId: keyArn, grantId, counterKey: keyArn };
  }
  if (provider === "azure") {
    const uri = await stack.azure.createKeyForVendor();
    return { provider, keyId: uri, grantId: undefined, counterKey: new URL(uri).pathname.split("/")[2]! };
  }
  const name = await stack.gcp.createKeyForVendor();
  return { provider, keyId: name, grantId: undefined, counterKey: name };
}
