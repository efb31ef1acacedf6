// Starts real emulators, a fresh PostgreSQL database and a broker instance on a free port.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "@/lib/config/env";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { startEmulators, type EmulatorSet } from "@/emulators/launch";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "@/emulators/tenant-actions";
import { createTestDatabase, type TestDatabase } from "./postgres";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

export interface Harness {
  emulators: EmulatorSet;
  database: TestDatabase;
  runtime: BrokerRuntime;
  dataDir: string;
  aws: AwsTenantActions;
  azure: AzureTenantActions;
  gcp: GcpTenantActions;
  api: ApiClient;
  env: Record<string, string>;
  startInstance(extra?: Record<string, string>): Promise<BrokerRuntime>;
  close(): Promise<void>;
}

export async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-test-"));
  const emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  const database = await createTestDatabase();
  const env: Record<string, string> = {
    NODE_ENV: "test",
    PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
    BROKER_LOG_LEVEL: "silent",
    BROKER_KMS_TIMEOUT_MS: "1000",
    ...emulators.brokerEnv,
    ...extraEnv,
  };
  const instances: BrokerRuntime[] = [];
  const startInstance = async (extra: Record<string, string> = {}) => {
    const rt = await startBrokerRuntime({ config: loadConfig({ ...env, ...extra }) });
    instances.push(rt);
    return rt;
  };
  const runtime = await startInstance();
  const aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  const azure = new AzureTenantActions(emulators.azure.vaultUrl, emulators.azure.caPem, emulators.azure.authorityHost);
  const gcp = new GcpTenantActions("127.0.0.1", emulators.gcp.grpcPort);
  return {
    emulators,
    database,
    runtime,
    dataDir,
    aws,
    azure,
    gcp,
    env,
    api: new ApiClient(runtime.url),
    startInstance,
    async close() {
      for (const i of instances) await i.close().catch(() => {});
      aws.close();
      await gcp.close();
      await emulators.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async call<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* non-JSON (metrics) */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  admin = <T = any>(method: string, path: string, body?: unknown) => this.call<T>(method, path, { token: ADMIN_TOKEN, body });

  async createTenant(slug: string): Promise<void> {
    const r = await this.admin("POST", "/api/v1/tenants", { slug, name: slug });
    if (r.status !== 201) throw new Error(`create tenant: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async connect(slug: string, provider: string, keyId: string): Promise<ApiResponse> {
    return this.admin("PUT", `/api/v1/tenants/${slug}/key`, { provider, keyId });
  }

  async token(slug: string): Promise<string> {
    const r = await this.admin("POST", `/api/v1/tenants/${slug}/tokens`, { name: "svc" });
    if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }

  encrypt(slug: string, token: string, plaintext: Buffer | string, context?: Record<string, string>, purpose?: string) {
    return this.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: Buffer.from(plaintext).toString("base64"), context, purpose } });
  }

  decrypt(slug: string, token: string, ciphertext: string, context?: Record<string, string>, purpose?: string) {
    return this.call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context, purpose } });
  }

  /** A tenant with a connected key and a service token, ready for the data path. */
  async readyTenant(slug: string, provider: string, keyId: string): Promise<string> {
    await this.createTenant(slug);
    const c = await this.connect(slug, provider, keyId);
    if (c.status !== 200) throw new Error(`connect: ${c.status} ${JSON.stringify(c.body)}`);
    return this.token(slug);
  }
}
