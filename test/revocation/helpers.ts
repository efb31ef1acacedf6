// Shared by the revocation tests: a steady stream of decrypts with per-request timestamps,
// polling, and a small table printer for the numbers the tests report.
import type { SqlExecutor } from "@/lib/db/database";
import type { ApiClient } from "../support/broker-harness";
import { waitFor as poll } from "../support/wait";

export interface Sample {
  sent: number;
  recv: number;
  status: number;
  retryAfter: string | null;
  plaintextOk: boolean | null;
}

/** Keeps `concurrency` decrypts in flight against one tenant until stopped, recording every request. */
export class DecryptStream {
  readonly samples: Sample[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly api: ApiClient,
    private readonly slug: string,
    private readonly token: string,
    private readonly items: Array<{ ciphertext: string; plaintext: string }>,
    private readonly concurrency = 2,
    private readonly pauseMs = 0,
  ) {}

  start(): this {
    for (let w = 0; w < this.concurrency; w++) {
      this.workers.push(
        (async () => {
          let i = w;
          while (!this.stopped) {
            const item = this.items[i++ % this.items.length]!;
            const sent = Date.now();
            let status: number;
            let retryAfter: string | null = null;
            let plaintextOk: boolean | null = null;
            try {
              const r = await this.api.decrypt(this.slug, this.token, item.ciphertext);
              status = r.status;
              retryAfter = r.headers.get("retry-after");
              if (r.status === 200) plaintextOk = Buffer.from(r.body.plaintext, "base64").toString() === item.plaintext;
            } catch {
              status = -1;
            }
            this.samples.push({ sent, recv: Date.now(), status, retryAfter, plaintextOk });
            if (this.pauseMs) await sleep(this.pauseMs);
          }
        })(),
      );
    }
    return this;
  }

  async stop(): Promise<Sample[]> {
    this.stopped = true;
    await Promise.all(this.workers);
    return this.samples;
  }

  first(pred: (s: Sample) => boolean): Sample | undefined {
    return [...this.samples].sort((a, b) => a.recv - b.recv).find(pred);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time is up (then returns undefined). */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, stepMs = 20): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(stepMs);
  }
}

/**
 * Waits until the prober's schedule knows the tenant is in use: an instance holding its DEKs has
 * reported activity (key_probe.last_activity_at, written once per probe interval). From then on
 * the key is probed on schedule, which is what the revocation tests rely on. `since`: a report
 * newer than this (after the tenant went idle and was used again).
 */
export async function activityReported(db: SqlExecutor, slug: string, since = new Date(0), timeoutMs = 5000): Promise<void> {
  await poll(
    async () => {
      const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM key_probe p JOIN tenant t ON t.id = p.tenant_id WHERE t.slug = $1 AND p.last_activity_at > $2`, [slug, since]);
      return rows[0]!.n > 0;
    },
    { what: `the prober to see ${slug}'s DEK activity (key_probe.last_activity_at)`, timeoutMs, intervalMs: 50 },
  );
}

export function printTable(title: string, rows: Array<Record<string, string | number | null>>): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => "| " + vals.map((v, i) => v.padEnd(widths[i]!)).join(" | ") + " |";
  const out = [title, line(cols), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map((r) => line(cols.map((c) => cell(r[c]))))];
  console.log(out.join("\n"));
}

export async function encryptMany(api: ApiClient, slug: string, token: string, n: number): Promise<Array<{ ciphertext: string; plaintext: string }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const plaintext = `${slug} record ${i}`;
    const r = await api.encrypt(slug, token, plaintext);
    if (r.status !== 200) throw new Error(`encrypt ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
    out.push({ ciphertext: r.body.ciphertext as string, plaintext });
  }
  return out;
}
