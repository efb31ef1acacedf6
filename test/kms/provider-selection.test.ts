// Issue 10 #5: providers are enabled by configuration and built on first use, so a deployment
// that uses only AWS starts without any Azure or GCP settings, and a key of a disabled provider
// is refused with 422 provider_disabled.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config/env";
import { enabledProviders } from "@/lib/kms/registry";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
const started: BrokerRuntime[] = [];

/** The harness environment without any Azure or Google setting. */
function awsOnlyEnv(extra: Record<string, string> = {}): Record<string, string> {
  // The vendor GCP service account counts as GCP configuration too (lib/kms/registry.ts).
  const env = Object.fromEntries(Object.entries(h.env).filter(([k]) => !k.startsWith("AZURE_") && !k.startsWith("GCP_") && k !== "BROKER_VENDOR_GCP_SERVICE_ACCOUNT"));
  return { ...env, ...extra };
}

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  for (const rt of started) await rt.close().catch(() => {});
  await h?.close();
});

describe("providers enabled by configuration", () => {
  test("a broker with only AWS configured starts, serves AWS keys, and refuses Azure and GCP keys with 422 provider_disabled", async () => {
    const rt = await startBrokerRuntime({ config: loadConfig(awsOnlyEnv({ BROKER_INSTANCE_ID: "aws-only" })) });
    started.push(rt);
    const api = new ApiClient(rt.url);
    const { keyArn } = await h.aws.createKeyForVendor();
    const token = await api.readyTenant("aws-only-tenant", "aws", keyArn);
    const enc = await api.encrypt("aws-only-tenant", token, "hello");
    expect(enc.status).toBe(200);
    const dec = await api.decrypt("aws-only-tenant", token, enc.body.ciphertext);
    expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("hello");

    await api.createTenant("wants-azure");
    const azureKey = await h.azure.createKeyForVendor();
    const az = await api.connect("wants-azure", "azure", azureKey);
    expect(az.status).toBe(422);
    expect(az.body.error.code).toBe("provider_disabled");
    expect(az.body.error.message).toMatch(/azure provider is not enabled/);
    const gcpKey = await h.gcp.createKeyForVendor();
    const gc = await api.connect("wants-azure", "gcp", gcpKey);
    expect(gc.status).toBe(422);
    expect(gc.body.error.code).toBe("provider_disabled");
    // The refused tenant stays pending and no key was stored.
    expect((await api.call("GET", "/api/v1/tenants/wants-azure", { token: ADMIN_TOKEN })).body).toMatchObject({ tenant: { state: "pending" }, key: null });
  }, 60_000);

  test("BROKER_PROVIDERS=aws,gcp disables Azure even when its credentials are present", async () => {
    const rt = await startBrokerRuntime({ config: loadConfig({ ...h.env, BROKER_PROVIDERS: "aws,gcp", BROKER_INSTANCE_ID: "aws-gcp" }) });
    started.push(rt);
    const api = new ApiClient(rt.url);
    await api.createTenant("gcp-allowed");
    expect((await api.connect("gcp-allowed", "gcp", await h.gcp.createKeyForVendor())).status).toBe(200);
    await api.createTenant("azure-refused");
    const r = await api.connect("azure-refused", "azure", await h.azure.createKeyForVendor());
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("provider_disabled");
  }, 60_000);

  test("enabling azure without its credentials is a configuration error naming the missing settings", () => {
    expect(() => loadConfig({ NODE_ENV: "test", BROKER_PROVIDERS: "aws,azure", AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", DATABASE_URL: "postgres://x/y" })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: "test", BROKER_PROVIDERS: "aws,azure", DATABASE_URL: "postgres://x/y" })).toThrow(/AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: "test", BROKER_PROVIDERS: "aws,oracle", DATABASE_URL: "postgres://x/y" })).toThrow(/BROKER_PROVIDERS/);
  });

  test("by default a provider is enabled when its configuration is present, and all three in the demo or with emulators", () => {
    const enabled = (env: Record<string, string>) => [...enabledProviders(loadConfig({ NODE_ENV: "test", DATABASE_URL: "postgres://x/y", BROKER_EMULATORS: "off", ...env }))].sort();
    expect(enabled({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE" })).toEqual(["aws"]);
    expect(enabled({ AWS_PROFILE: "prod" })).toEqual(["aws"]);
    expect(enabled({ AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", AZURE_CLIENT_SECRET: "s" })).toEqual(["azure"]);
    expect(enabled({ GOOGLE_APPLICATION_CREDENTIALS: "/etc/sa.json", AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/x" })).toEqual(["aws", "gcp"]);
    expect(enabled({})).toEqual([]);
    expect([...enabledProviders(loadConfig({ NODE_ENV: "test" }))].sort()).toEqual(["aws", "azure", "gcp"]);
    expect(enabled({ BROKER_EMULATORS: "on" })).toEqual(["aws", "azure", "gcp"]);
    // KMIP has no emulator: enabled by its server allow-list alone.
    expect(enabled({ BROKER_KMIP_ALLOWED_HOSTS: "kms.example.com" })).toEqual(["kmip"]);
    expect(enabled({ BROKER_EMULATORS: "on", BROKER_KMIP_ALLOWED_HOSTS: "kms.example.com" })).toEqual(["aws", "azure", "gcp", "kmip"]);
  });
});
