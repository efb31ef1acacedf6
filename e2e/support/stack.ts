// The e2e stack, run as its own process (tsx e2e/support/stack.ts) by Playwright's global
// setup: the three KMS emulators on free ports, a fresh PostgreSQL database, and one broker
// instance serving the API and the production build of the console (Next.js in-process),
// seeded with tenants and console users, and a real OpenID Connect provider for SSO. It writes what the tests need to a JSON file and
// tears everything down on SIGTERM.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulators } from "../../emulators/launch";
import { AwsTenantActions } from "../../emulators/tenant-actions";
import { loadConfig } from "../../lib/config/env";
import { startBrokerRuntime } from "../../lib/runtime/broker-runtime";
import { connectKey } from "../../lib/broker/operations/connect-key";
import { createTenant } from "../../lib/broker/operations/create-tenant";
import { createToken } from "../../lib/broker/operations/create-token";
import { seedConsoleUsers } from "../../lib/auth/seed-users";
import { createTestDatabase } from "../../testkit/postgres";
import { startTestIdp, type IdpAccount } from "./oidc-idp";
import { ownedAwsKey } from "../../scripts/owned-keys";

export interface StackInfo {
  url: string;
  adminToken: string;
  /** Console users' passwords by email: each user has its own. */
  passwords: Record<string, string>;
  nextAuthSecret: string;
  tenants: Record<string, { id: string; slug: string }>;
  /** globex: connected to an AWS key at start, with a service token, for the revocation test. */
  globex: { keyArn: string; serviceToken: string };
  aws: { url: string; region: string };
  azure: { vaultUrl: string; caPem: string; authorityHost: string };
  gcp: { grpcPort: number };
  /** The test identity provider (e2e/support/oidc-idp.ts); its accounts are keyed by login name. */
  sso: { issuer: string; name: string; accounts: Record<string, IdpAccount> };
}

export const SSO_NAME = "Test IdP";

/**
 * IdP accounts. Console users exist for every email but the stranger's; they are SSO-only
 * (no password) admins of globex, so a sensitive action sends them back to the IdP.
 */
export const SSO_ACCOUNTS: Record<string, IdpAccount> = {
  "sso-verified": { email: "sso-admin@globex.example", name: "SSO Admin", emailVerified: true },
  "sso-unverified": { email: "sso-unverified@globex.example", name: "Unverified", emailVerified: false },
  "sso-no-claim": { email: "sso-no-claim@globex.example", name: "No claim" },
  "sso-stranger": { email: "stranger@globex.example", name: "Stranger", emailVerified: true },
};

export const TENANT_SLUGS = ["acme", "initech", "umbrella", "globex"] as const;

async function main() {
  const outFile = process.argv[2];
  const port = Number(process.env.E2E_PORT ?? 3917);
  if (!outFile) throw new Error("usage: tsx e2e/support/stack.ts <info.json>");
  const dataDir = mkdtempSync(path.join(tmpdir(), "cmek-e2e-"));
  const emulators = await startEmulators({ dataDir, ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
  const database = await createTestDatabase("cmek_e2e");
  const adminToken = `e2e-admin-${randomBytes(16).toString("hex")}`;
  const nextAuthSecret = randomBytes(32).toString("base64url");
  const url = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({ redirectUri: `${url}/api/auth/callback/oidc`, accounts: SSO_ACCOUNTS });
  Object.assign(process.env, {
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    BROKER_ADMIN_TOKEN: adminToken,
    BROKER_LOG_LEVEL: "warn",
    BROKER_KMS_TIMEOUT_MS: "1500",
    // Short cache and probe intervals so that a revocation is noticed within the test's patience.
    BROKER_DEK_CACHE_TTL_MS: "1000",
    BROKER_PROBE_INTERVAL_MS: "1000",
    // The webhook spec's receiver listens on 127.0.0.1, which production refuses (SSRF guard).
    BROKER_WEBHOOK_ALLOW_PRIVATE: "on",
    NEXTAUTH_URL: url,
    NEXTAUTH_SECRET: nextAuthSecret,
    BROKER_OIDC_ISSUER: idp.issuer,
    BROKER_OIDC_CLIENT_ID: idp.clientId,
    BROKER_OIDC_CLIENT_SECRET: idp.clientSecret,
    BROKER_OIDC_NAME: SSO_NAME,
    ...emulators.brokerEnv,
  });
  const runtime = await startBrokerRuntime({ config: loadConfig(), withNext: true });
  const { ctx } = runtime;
  const actor = { kind: "admin" as const, name: "e2e-seed" };
  const tenants: StackInfo["tenants"] = {};
  for (const slug of TENANT_SLUGS) {
    const t = await createTenant({ ctx, actor, slug, name: `${slug[0]!.toUpperCase()}${slug.slice(1)} Inc.` });
    tenants[slug] = { id: t.id, slug };
  }
  const seeded = await seedConsoleUsers(runtime.db, Object.values(tenants));
  const passwords = Object.fromEntries(seeded.map((u) => [u.email, u.password]));
  for (const account of Object.values(SSO_ACCOUNTS)) {
    if (account.email.startsWith("stranger@")) continue;
    await runtime.db.prisma.consoleUser.create({ data: { email: account.email, name: account.name, role: "tenant_admin", tenantId: tenants.globex!.id } });
  }

  const aws = new AwsTenantActions(emulators.aws.url, emulators.aws.region);
  // Tagged as globex's own key, so the stack works with BROKER_REQUIRE_KEY_OWNERSHIP_TAG=on.
  const keyArn = await ownedAwsKey(aws, tenants.globex!.id);
  aws.close();
  await connectKey({ ctx, actor, tenant: "globex", provider: "aws", keyId: keyArn });
  const { token: serviceToken } = await createToken({ ctx, actor, tenant: "globex", name: "e2e-revocation" });

  const info: StackInfo = {
    url,
    adminToken,
    passwords,
    nextAuthSecret,
    tenants,
    globex: { keyArn, serviceToken },
    aws: { url: emulators.aws.url, region: emulators.aws.region },
    azure: { vaultUrl: emulators.azure.vaultUrl, caPem: emulators.azure.caPem, authorityHost: emulators.azure.authorityHost },
    gcp: { grpcPort: emulators.gcp.grpcPort },
    sso: { issuer: idp.issuer, name: SSO_NAME, accounts: SSO_ACCOUNTS },
  };
  writeFileSync(outFile, JSON.stringify(info), { mode: 0o600 });
  console.log(`e2e stack ready on ${url}`);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await runtime.close().catch((e) => console.error(e));
    await emulators.close().catch((e) => console.error(e));
    await idp.close().catch((e) => console.error(e));
    await database.drop().catch((e) => console.error(e));
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
