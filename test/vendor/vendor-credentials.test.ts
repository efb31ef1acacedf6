// Issue 10 #4: a vendor-side credential mistake must not lock tenants. An instance started with a
// valid but ungranted AWS identity (the emulator's AccessDenied names that caller's ARN, as real
// AWS does) or with credentials AWS does not accept, next to a healthy instance: no tenant is
// locked, the bad instance logs an error, counts it, raises a fleet alarm, and answers 503; a real
// revocation in the same run still locks within the probe interval + 1 s.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AWS_EMULATOR_VENDOR, type AwsPrincipal } from "@/emulators/aws/server";
import { AwsTenantActions } from "@/emulators/tenant-actions";
import { loadConfig } from "@/lib/config/env";
import { createLogger } from "@/lib/observability/logger";
import { startBrokerRuntime, type BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ADMIN_TOKEN, ApiClient, startHarness, type Harness } from "../support/broker-harness";

const INTERVAL_MS = 1000;

// Same vendor, another account's role: a real identity the tenants never granted anything.
const STAGING_ROLE: AwsPrincipal = {
  accessKeyId: "AKIACMEKSTAGINGROLE1",
  secretAccessKey: "emulator-staging-secret-00000000000000000",
  accountId: "333333333333",
  arn: "arn:aws:iam::333333333333:role/cmek-broker-staging",
};

let h: Harness;
let canaryArn: string;
const extra: BrokerRuntime[] = [];
const tenants: Array<{ slug: string; keyArn: string; token: string; ciphertext: string }> = [];

function captureLogs(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

async function startBadInstance(env: Record<string, string>): Promise<{ rt: BrokerRuntime; api: ApiClient; lines: string[] }> {
  const logs = captureLogs();
  const rt = await startBrokerRuntime({
    config: loadConfig({ ...h.env, ...env }),
    logger: createLogger({ level: "info", destination: logs.stream }),
  });
  extra.push(rt);
  return { rt, api: new ApiClient(rt.url), lines: logs.lines };
}

async function lockCount(): Promise<number> {
  const [r] = await h.runtime.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM tenant_transition WHERE to_state = 'locked'`);
  return Number(r!.n);
}

async function states(): Promise<string[]> {
  return Promise.all(tenants.map(async (t) => (await h.api.admin("GET", `/api/v1/tenants/${t.slug}`)).body.tenant.state as string));
}

async function poll<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Data requests against every tenant on `api` for `ms`, returning every status seen. */
async function hammer(api: ApiClient, ms: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const t of tenants) {
      const d = await api.decrypt(t.slug, t.token, t.ciphertext);
      statuses.push(d.status);
      if (d.status === 503) expect(d.headers.get("retry-after")).toMatch(/^\d+$/);
      const e = await api.encrypt(t.slug, t.token, "x");
      statuses.push(e.status);
    }
  }
  return statuses;
}

function metricValue(text: string, cause: string): number {
  const line = text.split("\n").find((l) => l.startsWith("cmek_vendor_credential_errors_total{") && l.includes('provider="aws"') && l.includes(`cause="${cause}"`));
  return line ? Number(line.split(" ").pop()) : 0;
}

beforeAll(async () => {
  h = await startHarness({
    BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS),
    BROKER_DEK_CACHE_TTL_MS: "600000",
    BROKER_AWS_PRINCIPAL_ARN: AWS_EMULATOR_VENDOR.arn,
  });
  h.emulators.aws.addPrincipal(STAGING_ROLE);
  const vendor = new AwsTenantActions(h.emulators.aws.url, h.emulators.aws.region, AWS_EMULATOR_VENDOR);
  canaryArn = await vendor.createKey("vendor canary: the broker identity must always be able to use this key");
  vendor.close();
  for (const slug of ["va-one", "va-two", "va-three"]) {
    const { keyArn } = await h.aws.createKeyForVendor();
    const token = await h.api.readyTenant(slug, "aws", keyArn);
    const enc = await h.api.encrypt(slug, token, `secret of ${slug}`);
    expect(enc.status).toBe(200);
    tenants.push({ slug, keyArn, token, ciphertext: enc.body.ciphertext });
  }
}, 60_000);

afterAll(async () => {
  for (const rt of extra) await rt.close().catch(() => {});
  await h?.close();
});

describe("vendor-side AWS credential faults", () => {
  test("a valid but ungranted identity locks no tenant, logs, counts, raises the fleet alarm and answers 503; a real DisableKey still locks within interval + 1 s", async () => {
    // Instance 1 knows the identity it should have: the AccessDenied message names another caller.
    const wrongRole = await startBadInstance({
      BROKER_INSTANCE_ID: "vendor-wrong-role",
      AWS_ACCESS_KEY_ID: STAGING_ROLE.accessKeyId,
      AWS_SECRET_ACCESS_KEY: STAGING_ROLE.secretAccessKey,
    });
    // Instance 2 has no expected identity configured, only the vendor canary key, which refuses it too.
    const canaryOnly = await startBadInstance({
      BROKER_INSTANCE_ID: "vendor-canary-only",
      AWS_ACCESS_KEY_ID: STAGING_ROLE.accessKeyId,
      AWS_SECRET_ACCESS_KEY: STAGING_ROLE.secretAccessKey,
      BROKER_AWS_PRINCIPAL_ARN: "",
      BROKER_AWS_CANARY_KEY_ARN: canaryArn,
    });

    const [a, b] = await Promise.all([hammer(wrongRole.api, 3 * INTERVAL_MS), hammer(canaryOnly.api, 3 * INTERVAL_MS)]);
    expect(new Set([...a, ...b])).toEqual(new Set([503]));
    const refused = await wrongRole.api.decrypt(tenants[0]!.slug, tenants[0]!.token, tenants[0]!.ciphertext);
    expect(refused.body.error.code).toBe("kms_unavailable");

    expect(await lockCount()).toBe(0);
    expect(await states()).toEqual(["active", "active", "active"]);
    // The healthy instance keeps serving meanwhile.
    expect((await h.api.decrypt(tenants[1]!.slug, tenants[1]!.token, tenants[1]!.ciphertext)).status).toBe(200);

    const logged = (lines: string[], cause: string) =>
      lines.map((l) => JSON.parse(l) as { level: number; msg: string; provider?: string; cause?: string }).find((l) => l.level >= 50 && l.cause === cause && l.provider === "aws");
    expect(logged(wrongRole.lines, "wrong_identity")?.msg).toMatch(/vendor-side KMS credential fault \(aws\)/);
    expect(logged(canaryOnly.lines, "identity_lacks_access")?.msg).toMatch(/no tenant is locked/);

    expect(metricValue((await wrongRole.api.call("GET", "/api/metrics")).body, "wrong_identity")).toBeGreaterThan(0);
    expect(metricValue((await canaryOnly.api.call("GET", "/api/metrics")).body, "identity_lacks_access")).toBeGreaterThan(0);

    // The alarm shows in the fleet view of any instance, here the healthy one.
    const alarms = await poll(async () => {
      const f = await h.api.call("GET", "/api/v1/fleet", { token: ADMIN_TOKEN });
      const list = (f.body.vendorAlarms ?? []) as Array<{ instanceId: string; provider: string; cause: string; count: number }>;
      return list.some((x) => x.instanceId === "vendor-wrong-role") && list.some((x) => x.instanceId === "vendor-canary-only") ? list : undefined;
    }, 5000);
    expect(alarms).toBeDefined();
    expect(alarms!.find((x) => x.instanceId === "vendor-wrong-role")).toMatchObject({ provider: "aws", cause: "wrong_identity" });
    expect(alarms!.find((x) => x.instanceId === "vendor-canary-only")).toMatchObject({ provider: "aws", cause: "identity_lacks_access" });

    // A real revocation in the same run, while the bad instances keep failing.
    const victim = tenants[0]!;
    const background = Promise.all([hammer(wrongRole.api, 2 * INTERVAL_MS + 1000), hammer(canaryOnly.api, 2 * INTERVAL_MS + 1000)]);
    const revokedAt = Date.now();
    await h.aws.disable(victim.keyArn);
    const lockedAt = await poll(async () => {
      const t = await h.api.admin("GET", `/api/v1/tenants/${victim.slug}`);
      return t.body.tenant.state === "locked" ? Date.now() : undefined;
    }, INTERVAL_MS + 3000);
    await background;
    expect(lockedAt, "the disabled key's tenant was not locked").toBeDefined();
    expect(lockedAt! - revokedAt).toBeLessThanOrEqual(INTERVAL_MS + 1000);
    const victimView = await h.api.admin("GET", `/api/v1/tenants/${victim.slug}`);
    expect(victimView.body.tenant.lockReason).toBe("kms:aws:disabled");
    expect(await lockCount()).toBe(1);
    expect((await states()).slice(1)).toEqual(["active", "active"]);
  }, 60_000);

  test("an unknown access key or a wrong secret locks nothing and is logged and counted as credentials_rejected", async () => {
    const unknownKey = await startBadInstance({ BROKER_INSTANCE_ID: "vendor-unknown-key", AWS_ACCESS_KEY_ID: "AKIAUNKNOWNKEY000001", AWS_SECRET_ACCESS_KEY: "whatever-secret" });
    const wrongSecret = await startBadInstance({ BROKER_INSTANCE_ID: "vendor-wrong-secret", AWS_SECRET_ACCESS_KEY: "not-the-vendor-secret-000000000000000000" });
    const before = await lockCount();
    const live = tenants.slice(1);
    for (const bad of [unknownKey, wrongSecret]) {
      for (const t of live) {
        const d = await bad.api.decrypt(t.slug, t.token, t.ciphertext);
        expect(d.status).toBe(503);
        expect(d.body.error.code).toBe("kms_unavailable");
      }
      const line = bad.lines.map((l) => JSON.parse(l) as { level: number; cause?: string; providerCode?: string }).find((l) => l.level >= 50 && l.cause === "credentials_rejected");
      expect(line?.providerCode).toMatch(bad === unknownKey ? /^UnrecognizedClientException$/ : /^InvalidSignatureException$/);
      expect(metricValue((await bad.api.call("GET", "/api/metrics")).body, "credentials_rejected")).toBeGreaterThan(0);
    }
    expect(await lockCount()).toBe(before);
    const alarms = await poll(async () => {
      const f = await h.api.call("GET", "/api/v1/fleet", { token: ADMIN_TOKEN });
      const list = (f.body.vendorAlarms ?? []) as Array<{ instanceId: string; cause: string }>;
      return list.some((x) => x.instanceId === "vendor-unknown-key" && x.cause === "credentials_rejected") ? list : undefined;
    }, 5000);
    expect(alarms).toBeDefined();
  }, 60_000);

  test("with a working canary, a tenant's own RevokeGrant is still a revocation: the tenant is locked at once (423)", async () => {
    const withCanary = await startBadInstance({ BROKER_INSTANCE_ID: "vendor-healthy-canary", BROKER_AWS_CANARY_KEY_ARN: canaryArn });
    const { keyArn, grantId } = await h.aws.createKeyForVendor();
    const token = await h.api.readyTenant("va-revoker", "aws", keyArn);
    const enc = await h.api.encrypt("va-revoker", token, "mine");
    expect(enc.status).toBe(200);
    await h.aws.revokeGrant(keyArn, grantId);
    // A fresh instance holds no DEK: its unwrap is refused, the canary still works, so it locks.
    const d = await withCanary.api.decrypt("va-revoker", token, enc.body.ciphertext);
    expect(d.status, JSON.stringify(d.body)).toBe(423);
    const t = await h.api.admin("GET", "/api/v1/tenants/va-revoker");
    expect(t.body.tenant).toMatchObject({ state: "locked", lockReason: "kms:aws:access_denied" });
    expect(metricValue((await withCanary.api.call("GET", "/api/metrics")).body, "identity_lacks_access")).toBe(0);
  }, 60_000);
});
