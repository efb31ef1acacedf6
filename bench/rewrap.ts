// Scenario: re-wrap (issue 11). A tenant with N DEKs switches to another AWS key (ReEncrypt):
// (a) re-wrap throughput at the default rate limit, (b) unthrottled (rate limits 0), and
// (c) the data path's throughput (decrypts of a cached DEK of another tenant, as fast as the
// broker answers) while a default-rate job runs, as a ratio to the same run without a job.
// The DEKs are seeded the way the broker makes them (random 32 bytes wrapped under the tenant's
// key through the SDK with context {tenant, dek}, inserted wrapped), so seeding takes seconds.
import { randomBytes, randomUUID } from "node:crypto";
import { CreateGrantCommand } from "@aws-sdk/client-kms";
import pg from "pg";
import { AWS_EMULATOR_VENDOR } from "../emulators/aws/server";
import { AwsKmsProvider } from "../lib/kms/aws";
import type { Mode, Section } from "./lib/report";
import { connectTenant, type Broker, type Stack } from "./lib/stack";
import { round, sleep } from "./lib/stats";
import { pool, tenantTraffic } from "./lib/tenants";

async function reencryptKey(stack: Stack): Promise<string> {
  const keyArn = await stack.aws.createKey();
  const ops = ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "ReEncryptFrom", "ReEncryptTo"] as const;
  await stack.aws.client.send(new CreateGrantCommand({ KeyId: keyArn, GranteePrincipal: AWS_EMULATOR_VENDOR.arn, Operations: [...ops] }));
  return keyArn;
}

/** Inserts `n` DEKs wrapped under the tenant's connected key, as the broker would have made them. */
async function seedDeks(stack: Stack, dbUrl: string, slug: string, n: number): Promise<void> {
  const env = stack.emulators.brokerEnv;
  const provider = new AwsKmsProvider({ region: env.AWS_REGION ?? "us-east-1", endpoint: env.AWS_ENDPOINT_URL_KMS, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
  const sql = new pg.Pool({ connectionString: dbUrl, max: 4 });
  try {
    const k = (await sql.query<{ tenant_id: string; id: string; key_ref: string; key_version: string | null }>(`SELECT kc.tenant_id, kc.id, kc.key_ref, kc.key_version FROM key_connection kc JOIN tenant t ON t.id = kc.tenant_id WHERE t.slug = $1 AND kc.status = 'connected'`, [slug])).rows[0]!;
    await pool([...Array(n).keys()], 16, async () => {
      const id = randomUUID();
      const dek = randomBytes(32);
      const w = await provider.wrap(k.key_ref, dek, { tenant: k.tenant_id, dek: id });
      dek.fill(0);
      await sql.query(`INSERT INTO data_key (id, tenant_id, key_connection_id, wrapped_key, key_version, retired_at) VALUES ($1, $2, $3, $4, $5, now())`, [id, k.tenant_id, k.id, w.wrapped, w.keyVersion]);
    });
  } finally {
    await sql.end();
    provider.destroy();
  }
}

/** Switches the tenant to a new key and times the job; returns DEKs per second. */
async function timedSwitch(broker: Broker, slug: string, newKey: string, timeoutMs: number): Promise<{ deks: number; seconds: number; perSecond: number }> {
  const t0 = performance.now();
  const c = await broker.api.connect(slug, "aws", newKey);
  if (c.status !== 200) throw new Error(`switch ${slug}: ${c.status} ${JSON.stringify(c.body)}`);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    const l = (await broker.api.admin("GET", `/api/v1/tenants/${slug}/lifecycle`)).body;
    if (l.job?.state === "completed") {
      const seconds = (performance.now() - t0) / 1000;
      return { deks: l.job.rewrapped, seconds, perSecond: l.job.rewrapped / seconds };
    }
  }
  throw new Error(`re-wrap of ${slug} did not complete within ${timeoutMs} ms`);
}

async function rewrapTenant(stack: Stack, broker: Broker, dbUrl: string, slug: string, n: number) {
  const token = await connectTenant(broker.api, slug, "aws", await reencryptKey(stack));
  await seedDeks(stack, dbUrl, slug, n);
  return token;
}

export async function rewrap(stack: Stack, mode: Mode): Promise<Section> {
  const rows: Section["rows"] = [];
  const data: Record<string, unknown> = {};
  const fast = { BROKER_REWRAP_SWEEP_MS: "200", BROKER_PROBE_INTERVAL_MS: "3600000" };

  // (a) default rate limits (20 KMS calls/s per tenant, 50 per provider).
  const db = await stack.database();
  const broker = await stack.broker(db.url, { ...fast, BROKER_INSTANCE_ID: "rewrap" });
  const nDefault = mode.quick ? 30 : 150;
  await rewrapTenant(stack, broker, db.url, "rw-default", nDefault);
  const a = await timedSwitch(broker, "rw-default", await reencryptKey(stack), 600_000);
  rows.push([`re-wrap at the default rate limit (${nDefault} DEKs, AWS ReEncrypt)`, `${round(a.perSecond, 1)} DEKs/s`, "≈ 10 (20 calls/s, 2 per DEK)"]);
  data.defaultRate = a;

  // (c) data path: decrypts of a cached DEK of another tenant, as fast as answered, without and with a job.
  const dataToken = await connectTenant(broker.api, "rw-data", "aws", await reencryptKey(stack));
  const enc = await broker.api.encrypt("rw-data", dataToken, randomBytes(1024));
  const dataTenant = [{ slug: "rw-data", token: dataToken, ciphertext: enc.body.ciphertext as string, provider: "aws" as const }];
  const windowS = mode.quick ? 3 : 10;
  const load = () => tenantTraffic(broker.url, dataTenant, { connections: 16, rate: 1_000_000, durationS: windowS });
  const without = await load();
  await rewrapTenant(stack, broker, db.url, "rw-during", mode.quick ? 60 : 300);
  const c = await broker.api.connect("rw-during", "aws", await reencryptKey(stack));
  if (c.status !== 200) throw new Error(`switch rw-during: ${c.status}`);
  const during = await load();
  const jobState = (await broker.api.admin("GET", "/api/v1/tenants/rw-during/lifecycle")).body.job;
  const perS = (r: typeof without) => r["2xx"] / r.duration;
  rows.push(["data path decrypts/s without a job", `${round(perS(without), 0)}`]);
  rows.push(["data path decrypts/s while a default-rate job runs", `${round(perS(during), 0)} (${round(perS(during) / perS(without), 2)}x)`]);
  rows.push(["  failed requests without / with the job", `${without.non2xx + without.errors} / ${during.non2xx + during.errors}`, "0 / 0"]);
  data.dataPath = { withoutPerS: perS(without), duringPerS: perS(during), ratio: perS(during) / perS(without), jobAfterWindow: jobState };
  await stack.stopChildren();

  // (b) unthrottled.
  const db2 = await stack.database();
  const fastBroker = await stack.broker(db2.url, { ...fast, BROKER_INSTANCE_ID: "rewrap-unthrottled", BROKER_REWRAP_TENANT_RATE: "0", BROKER_REWRAP_PROVIDER_RATE: "0", BROKER_REWRAP_BATCH_SIZE: "200" });
  const nFast = mode.quick ? 100 : 1000;
  await rewrapTenant(stack, fastBroker, db2.url, "rw-fast", nFast);
  const b = await timedSwitch(fastBroker, "rw-fast", await reencryptKey(stack), 600_000);
  rows.push([`re-wrap unthrottled (${nFast} DEKs, AWS ReEncrypt, one job)`, `${round(b.perSecond, 1)} DEKs/s`]);
  data.unthrottled = b;
  return {
    title: "Re-wrap: key switch throughput and its cost to the data path",
    rows,
    notes: [
      "Times include the switch's validation round trip and the scheduler's pick-up; one job works DEKs one at a time (ReEncrypt + verifying ReEncrypt per DEK).",
      "The data-path load is one tenant's cached DEK, so the ratio shows the job's CPU and database cost on the same broker, not KMS contention.",
    ],
    data,
  };
}
