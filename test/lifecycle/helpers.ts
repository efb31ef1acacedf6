// Shared by the lifecycle tests: tenants with several DEKs, the lifecycle resource, and a
// steady encrypt/decrypt load that counts every failed request.
import { CreateGrantCommand } from "@aws-sdk/client-kms";
import { AWS_EMULATOR_VENDOR } from "@/emulators/aws/server";
import type { AwsTenantActions } from "@/emulators/tenant-actions";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import type { ApiClient } from "../support/broker-harness";
import { waitFor } from "../support/wait";

export interface Record_ {
  ciphertext: string;
  plaintext: string;
}

/** An AWS key the broker may use, including ReEncrypt (kms:ReEncryptFrom / ReEncryptTo). */
export async function awsKeyWithReEncrypt(aws: AwsTenantActions): Promise<string> {
  const keyArn = await aws.createKey();
  await aws.client.send(
    new CreateGrantCommand({ KeyId: keyArn, GranteePrincipal: AWS_EMULATOR_VENDOR.arn, Operations: ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "ReEncryptFrom", "ReEncryptTo"] }),
  );
  return keyArn;
}

/** Encrypts `n` records, each under a DEK of its own (the DEK in use is retired after each). */
export async function recordsOnDistinctDeks(api: ApiClient, runtime: BrokerRuntime, slug: string, token: string, n: number): Promise<Record_[]> {
  const tenant = (await runtime.ctx.registry.load({ slug }))!;
  const out: Record_[] = [];
  for (let i = 0; i < n; i++) {
    const plaintext = `${slug} record ${i}`;
    const r = await api.encrypt(slug, token, plaintext);
    if (r.status !== 200) throw new Error(`encrypt: ${r.status} ${JSON.stringify(r.body)}`);
    out.push({ ciphertext: r.body.ciphertext, plaintext });
    await runtime.db.query(`UPDATE data_key SET retired_at = now() WHERE tenant_id = $1 AND retired_at IS NULL`, [tenant.id]);
    runtime.ctx.keys.forgetTenant(tenant.id);
  }
  return out;
}

export async function lifecycle(api: ApiClient, slug: string) {
  const r = await api.admin("GET", `/api/v1/tenants/${slug}/lifecycle`);
  if (r.status !== 200) throw new Error(`lifecycle: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function waitForJob(api: ApiClient, slug: string, state: string, what: string, timeoutMs = 30_000, extra?: (l: ReturnType<typeof lifecycle> extends Promise<infer L> ? L : never) => boolean) {
  return waitFor(
    async () => {
      const l = await lifecycle(api, slug);
      return l.job?.state === state && (!extra || extra(l)) ? l : null;
    },
    { what, timeoutMs, intervalMs: 50 },
  );
}

/** Every record decrypts (through any of the given clients), with the right plaintext. */
export async function decryptAll(apis: ApiClient[], slug: string, token: string, records: Record_[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const [i, rec] of records.entries()) {
    const r = await apis[i % apis.length]!.decrypt(slug, token, rec.ciphertext);
    statuses.push(r.status === 200 && Buffer.from(r.body.plaintext, "base64").toString() === rec.plaintext ? 200 : r.status);
  }
  return statuses;
}

/** Alternating encrypts and decrypts of old and new records against every instance until stopped; counts failures. */
export class SteadyLoad {
  ok = 0;
  readonly failures: string[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly apis: ApiClient[],
    private readonly slug: string,
    private readonly token: string,
    private readonly records: Record_[],
  ) {}

  start(perInstance = 2): this {
    for (const [n, api] of this.apis.entries()) {
      for (let w = 0; w < perInstance; w++) {
        this.workers.push(
          (async () => {
            let i = w + n;
            while (!this.stopped) {
              i++;
              const rec = this.records[i % this.records.length]!;
              try {
                if (i % 3 === 0) {
                  const e = await api.encrypt(this.slug, this.token, `load ${i}`);
                  if (e.status !== 200) throw new Error(`encrypt ${e.status} ${JSON.stringify(e.body)}`);
                  const d = await api.decrypt(this.slug, this.token, e.body.ciphertext);
                  if (d.status !== 200) throw new Error(`decrypt of new record ${d.status} ${JSON.stringify(d.body)}`);
                } else {
                  const d = await api.decrypt(this.slug, this.token, rec.ciphertext);
                  if (d.status !== 200 || Buffer.from(d.body.plaintext, "base64").toString() !== rec.plaintext) throw new Error(`decrypt ${d.status} ${JSON.stringify(d.body)}`);
                }
                this.ok++;
              } catch (e) {
                this.failures.push((e as Error).message);
              }
            }
          })(),
        );
      }
    }
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }
}
