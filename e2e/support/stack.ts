// The e2e stack, run as its own process (tsx e2e/support/stack.ts) by Playwright's global
// setup: the three KMS emulators on free ports, a fresh PostgreSQL database, and one broker
// instance serving the API and the production build of the console (Next.js in-process),
// seeded with tenants and console users, and a real OpenID Connect provider for SSO. It writes what the tests need to a JSON file and
// tears everything down on SIGTERM.
//
// Specs create their own tenants through the API (e2e/support/fixtures.ts createTenant). Console
// users have no API (they are seeded, lib/auth/seed-users.ts), so this process serves a small
// control endpoint of its own, not part of the product: POST /console-users {tenants:[{id,slug}]}
// seeds a tenant's admin and auditor with the stack's password. It listens on 127.0.0.1 on a
// free port and needs a bearer token that only the info file carries.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulators } from "../../emulators/launch";
import { loadConfig } from "../../lib/config/env";
import { startBrokerRuntime } from "../../lib/runtime/broker-runtime";
import { connectKey } from "../../lib/broker/operations/connect-key";
import { createTenant } from "../../lib/broker/operations/create-tenant";
import { createToken } from "../../lib/broker/operations/create-token";
import { hashPassword } from "../../lib/auth/password";
import { seedConsoleUsers } from "../../lib/auth/seed-users";
import { createTestDatabase } from "../../testkit/postgres";
import { SoftHsm, softHsmInstalled } from "../../testkit/softhsm";
import { startTestIdp, type IdpAccount } from "./oidc-idp";
import { ownedAwsKey } from "../../scripts/owned-keys";
import { AwsTenantActions } from "../../emulators/tenant-actions";
import { KmipClient } from "../../lib/kms/kmip/client";
import { pykmipInstalled, startPyKmip } from "../../testkit/pykmip";
import { z } from "zod";

export interface StackInfo {
  url: string;
  adminToken: string;
  /** Console users' passwords by email: each user has its own. */
  passwords: Record<string, string>;
  nextAuthSecret: string;
  /** Seeded at start for the SSO, sign-in and session specs (the other specs create their own). */
  tenants: Record<string, { id: string; slug: string }>;
  /** globex: connected to an AWS key at start, with a service token. */
  globex: { keyArn: string; serviceToken: string };
  aws: { url: string; region: string };
  azure: { vaultUrl: string; caPem: string; authorityHost: string };
  gcp: { grpcPort: number };
  /** The test identity provider (e2e/support/oidc-idp.ts); its accounts are keyed by login name. */
  sso: { issuer: string; name: string; accounts: Record<string, IdpAccount> };
  /** A key on a SoftHSM2 token the broker serves (null when SoftHSM2 is not installed). */
  pkcs11: { keyUri: string; token: string } | null;
  /** The stack's own control endpoint (see the header): seeds console users for a tenant. */
  control: { url: string; token: string };
  /** PyKMIP, when Debian's python3-pykmip is installed: the tenants' KMIP server (POST /kmip-key on the control endpoint). */
  kmip: { host: string; port: number } | null;
}

const ZSeedUsers = z.object({
  tenants: z.array(z.object({ id: z.string().uuid(), slug: z.string().min(1).max(100) })).min(1).max(20),
  /** More tenant admins per tenant (admin2@, admin3@ ...), for M-of-N approvals. */
  extraAdmins: z.number().int().min(0).max(5).default(0),
});
const ZKmipKey = z.object({ commonName: z.string().min(1).max(200), certificatePem: z.string().min(1).max(20_000) });

/**
 * The control endpoint: seeds console users for tenants the specs created through the API, and
 * (POST /kmip-key) plays a tenant's KMIP administrator: registers the broker's certificate in
 * PyKMIP (a restart: PyKMIP reads its trust bundle at start) and creates an active AES-256 key.
 */
function startControl(
  seed: (tenants: Array<{ id: string; slug: string }>, extraAdmins: number) => Promise<unknown>,
  token: string,
  kmipKey?: (req: z.infer<typeof ZKmipKey>) => Promise<unknown>,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method === "POST" && req.url === "/kmip-key" && kmipKey) {
      if (req.headers.authorization !== `Bearer ${token}`) return answer(401, { error: "unauthorized" });
      const body: Buffer[] = [];
      req.on("data", (c: Buffer) => body.push(c));
      req.on("end", () => {
        let parsed: z.infer<typeof ZKmipKey>;
        try {
          parsed = ZKmipKey.parse(JSON.parse(Buffer.concat(body).toString("utf8")));
        } catch (e) {
          return answer(400, { error: (e as Error).message });
        }
        kmipKey(parsed).then(
          (key) => answer(200, key),
          (e: unknown) => answer(500, { error: (e as Error).message }),
        );
      });
      return;
    }
    if (req.method !== "POST" || req.url !== "/console-users") return answer(404, { error: "not found" });
    if (req.headers.authorization !== `Bearer ${token}`) return answer(401, { error: "unauthorized" });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let parsed: z.infer<typeof ZSeedUsers>;
      try {
        parsed = ZSeedUsers.parse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (e) {
        return answer(400, { error: (e as Error).message });
      }
      seed(parsed.tenants, parsed.extraAdmins).then(
        (users) => answer(200, { users }),
        (e: unknown) => answer(500, { error: (e as Error).message }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
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
  // "localhost", not 127.0.0.1: Chromium refuses an IP address as a WebAuthn RP ID (the passkey spec).
  const url = `http://localhost:${port}`;
  const idp = await startTestIdp({ redirectUri: `${url}/api/auth/callback/oidc`, accounts: SSO_ACCOUNTS });
  // SoftHSM2 as a tenant's HSM: a token made before the broker loads the module, one AES key on it.
  const hsm = softHsmInstalled() ? new SoftHsm() : null;
  let pkcs11: StackInfo["pkcs11"] = null;
  if (hsm) {
    const token = hsm.initToken("e2e-hsm", "e2e-user-pin", { viaCli: true });
    pkcs11 = { token: token.label, keyUri: hsm.createKey(token, "e2e-tenant-key") };
  }
  const kmip = pykmipInstalled() ? await startPyKmip() : null;
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
    ...(hsm ? hsm.brokerEnv() : {}),
    ...(kmip ? { BROKER_KMIP_ALLOWED_HOSTS: `${kmip.host}:${kmip.port}`, BROKER_KMIP_SEALING_KEY: randomBytes(32).toString("base64url") } : {}),
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
  const controlToken = randomBytes(24).toString("hex");
  // Specs seed their own tenants' users through it; the vendor operator keeps the password above.
  const registered: string[] = [];
  const kmipKey = kmip
    ? async ({ commonName, certificatePem }: z.infer<typeof ZKmipKey>) => {
        registered.push(certificatePem);
        kmip.setTrustedClientCerts(registered);
        kmip.kill();
        await kmip.start();
        // PyKMIP's owner is the certificate's CN: the tenant's admin creates the key under the broker's CN.
        const cert = kmip.clientCert(commonName);
        const admin = new KmipClient({ host: kmip.host, port: kmip.port, certPem: cert.certPem, keyPem: cert.keyPem, caPem: kmip.caPem }, `admin ${commonName}`, { timeoutMs: 10_000 });
        const uid = await admin.create({ usageMask: 12 });
        await admin.activate(uid);
        return { keyRef: `kmip://${kmip.host}:${kmip.port}/${uid}`, caPem: kmip.caPem };
      }
    : undefined;
  const control = await startControl(
    async (ts, extraAdmins) => {
      const users: Array<{ email: string; password: string }> = [...(await seedConsoleUsers(runtime.db, ts, { vendorOps: passwords["ops@vendor.example"] }))];
      for (const t of ts) {
        for (let n = 2; n < 2 + extraAdmins; n++) {
          const email = `admin${n}@${t.slug}.example`;
          const password = randomBytes(12).toString("base64url");
          const passwordHash = await hashPassword(password);
          await runtime.db.prisma.consoleUser.upsert({ where: { email }, create: { email, role: "tenant_admin", tenantId: t.id, passwordHash }, update: { passwordHash } });
          users.push({ email, password });
        }
      }
      return users;
    },
    controlToken,
    kmipKey,
  );

  const info: StackInfo = {
    url,
    adminToken,
    passwords,
    tenants,
    globex: { keyArn, serviceToken },
    nextAuthSecret,
    aws: { url: emulators.aws.url, region: emulators.aws.region },
    azure: { vaultUrl: emulators.azure.vaultUrl, caPem: emulators.azure.caPem, authorityHost: emulators.azure.authorityHost },
    gcp: { grpcPort: emulators.gcp.grpcPort },
    pkcs11,
    sso: { issuer: idp.issuer, name: SSO_NAME, accounts: SSO_ACCOUNTS },
    control: { url: `http://127.0.0.1:${(control.address() as AddressInfo).port}`, token: controlToken },
    kmip: kmip ? { host: kmip.host, port: kmip.port } : null,
  };
  writeFileSync(outFile, JSON.stringify(info), { mode: 0o600 });
  console.log(`e2e stack ready on ${url}`);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    // First and synchronous: PyKMIP runs detached, and the global teardown stops waiting after 15 s.
    kmip?.dispose();
    control.close();
    await runtime.close().catch((e) => console.error(e));
    await emulators.close().catch((e) => console.error(e));
    await idp.close().catch((e) => console.error(e));
    await database.drop().catch((e) => console.error(e));
    hsm?.close();
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
