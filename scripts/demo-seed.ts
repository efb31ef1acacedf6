// Seeds the `npm start` demo once: three tenants, each with a key on one emulator (created and
// granted to the broker through the tenant's own SDK calls), a service token each, console
// users. Tokens are only returned at creation, so the credentials are kept in DATA_DIR
// (mode 0600) to be shown again on later starts: acceptable for a throwaway demo only.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BrokerContext } from "../lib/broker/context";
import { connectKey } from "../lib/broker/operations/connect-key";
import { createTenant } from "../lib/broker/operations/create-tenant";
import { createToken } from "../lib/broker/operations/create-token";
import type { EmulatorSet } from "../emulators/launch";
import { AwsTenantActions, AzureTenantActions, GcpTenantActions } from "../emulators/tenant-actions";
import { ownedAwsKey, ownedAzureKey, ownedGcpKey } from "./owned-keys";

export interface DemoCredentials {
  adminToken: string;
  tenants: Array<{ slug: string; provider: string; keyId: string; serviceToken: string }>;
  consoleUsers: Array<{ email: string; password: string; role: string; tenant?: string }>;
}

const ADMIN = { kind: "admin" as const, name: "demo-seed" };

export async function seedDemo(ctx: BrokerContext, emulators: EmulatorSet, dataDir: string, adminToken: string): Promise<DemoCredentials> {
  const file = path.join(dataDir, "demo-credentials.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as DemoCredentials;

  const aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  const azure = new AzureTenantActions(emulators.azure.vaultUrl, emulators.azure.caPem, emulators.azure.authorityHost);
  const gcp = new GcpTenantActions("127.0.0.1", emulators.gcp.grpcPort);
  const plan = [
    // Each key carries the tenant's ownership tag, so the seed works with BROKER_REQUIRE_KEY_OWNERSHIP_TAG=on.
    { slug: "acme", name: "Acme Corp", provider: "aws" as const, key: (tenantId: string) => ownedAwsKey(aws, tenantId) },
    { slug: "globex", name: "Globex", provider: "azure" as const, key: (tenantId: string) => ownedAzureKey(azure, tenantId) },
    { slug: "initech", name: "Initech", provider: "gcp" as const, key: (tenantId: string) => ownedGcpKey(gcp, tenantId) },
  ];
  const creds: DemoCredentials = { adminToken, tenants: [], consoleUsers: [] };
  const created: Array<{ id: string; slug: string }> = [];
  try {
    for (const p of plan) {
      const t = await createTenant({ ctx, actor: ADMIN, slug: p.slug, name: p.name });
      const keyId = await p.key(t.id);
      await connectKey({ ctx, actor: ADMIN, tenant: p.slug, provider: p.provider, keyId });
      const token = await createToken({ ctx, actor: ADMIN, tenant: p.slug, name: "demo-service" });
      creds.tenants.push({ slug: p.slug, provider: p.provider, keyId, serviceToken: token.token });
      created.push({ id: t.id, slug: t.slug });
    }
  } finally {
    aws.close();
    await gcp.close();
  }
  creds.consoleUsers = await seedUsersIfAvailable(ctx, created);
  writeFileSync(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return creds;
}

async function seedUsersIfAvailable(ctx: BrokerContext, tenants: Array<{ id: string; slug: string }>) {
  try {
    const mod = (await import("../lib/auth/seed-users")) as {
      seedConsoleUsers?: (db: BrokerContext["db"], tenants: Array<{ id: string; slug: string }>, password?: string) => Promise<DemoCredentials["consoleUsers"]>;
    };
    return mod.seedConsoleUsers ? await mod.seedConsoleUsers(ctx.db, tenants) : [];
  } catch {
    return [];
  }
}

export function printDemo(url: string, creds: DemoCredentials): void {
  const lines = [
    "",
    "cmek-broker demo is running (embedded database, local KMS emulators). Nothing here is for production.",
    `  console:      ${url}/`,
    `  API:          ${url}/api/v1/openapi.json`,
    `  admin token:  ${creds.adminToken}`,
    ...creds.tenants.map((t) => `  tenant ${t.slug.padEnd(8)} ${t.provider.padEnd(5)} service token ${t.serviceToken}\n      key ${t.keyId}`),
    ...creds.consoleUsers.map((u) => `  console user ${u.email} / ${u.password} (${u.role}${u.tenant ? ` of ${u.tenant}` : ""})`),
    "",
    "Try:",
    `  curl -s -H "authorization: Bearer ${creds.tenants[0]?.serviceToken}" -H 'content-type: application/json' \\`,
    `    -d '{"plaintext":"aGVsbG8=","context":{"table":"demo"}}' ${url}/api/v1/tenants/${creds.tenants[0]?.slug}/encrypt`,
    "",
  ];
  console.log(lines.join("\n"));
}
