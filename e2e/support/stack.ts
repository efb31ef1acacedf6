// The e2e stack, run as its own process (tsx e2e/support/stack.ts) by Playwright's global
// setup: the three KMS emulators on free ports, a fresh PostgreSQL database, and one broker
// instance serving the API and the production build of the console (Next.js in-process),
// seeded with the vendor operator only. It writes what the tests need to a JSON file and
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
import { seedConsoleUsers } from "../../lib/auth/seed-users";
import { createTestDatabase } from "../../test/support/postgres";
import { z } from "zod";

export interface StackInfo {
  url: string;
  adminToken: string;
  password: string;
  nextAuthSecret: string;
  aws: { url: string; region: string };
  azure: { vaultUrl: string; caPem: string; authorityHost: string };
  gcp: { grpcPort: number };
  /** The stack's own control endpoint (see the header): seeds console users for a tenant. */
  control: { url: string; token: string };
}

const ZSeedUsers = z.object({ tenants: z.array(z.object({ id: z.string().uuid(), slug: z.string().min(1).max(100) })).min(1).max(20) });

/** The control endpoint: seeds console users for tenants the specs created through the API. */
function startControl(seed: (tenants: Array<{ id: string; slug: string }>) => Promise<unknown>, token: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
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
      seed(parsed.tenants).then(
        (users) => answer(200, { users }),
        (e: unknown) => answer(500, { error: (e as Error).message }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

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
    ...emulators.brokerEnv,
  });
  const runtime = await startBrokerRuntime({ config: loadConfig(), withNext: true });
  // No tenants: each spec creates its own (fixtures.ts createTenant). Only the vendor operator here.
  const password = `e2e-${randomBytes(9).toString("base64url")}`;
  await seedConsoleUsers(runtime.db, [], password);
  const controlToken = randomBytes(24).toString("hex");
  // The vendor operator is seeded again with each call, with the same password: harmless.
  const control = await startControl((ts) => seedConsoleUsers(runtime.db, ts, password), controlToken);

  const info: StackInfo = {
    url,
    adminToken,
    password,
    nextAuthSecret,
    aws: { url: emulators.aws.url, region: emulators.aws.region },
    azure: { vaultUrl: emulators.azure.vaultUrl, caPem: emulators.azure.caPem, authorityHost: emulators.azure.authorityHost },
    gcp: { grpcPort: emulators.gcp.grpcPort },
    control: { url: `http://127.0.0.1:${(control.address() as AddressInfo).port}`, token: controlToken },
  };
  writeFileSync(outFile, JSON.stringify(info), { mode: 0o600 });
  console.log(`e2e stack ready on ${url}`);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    control.close();
    await runtime.close().catch((e) => console.error(e));
    await emulators.close().catch((e) => console.error(e));
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
