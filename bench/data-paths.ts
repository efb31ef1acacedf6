// Scenario: the service path's bulk forms (issue 14). Batch decrypt of 100 x 1 KiB per request
// against single 1 KiB decrypts, same broker, same load generator, interleaved in this run; and
// a 1 GiB stream through /encrypt/stream and /decrypt/stream against raw AES-256-GCM of the same
// bytes in one process (this one), with the broker's peak RSS while the streams pass.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { measureInterleaved, type LoadOptions, type Target } from "./lib/load";
import { rssMiB } from "./lib/proc";
import { fmtCores, ratio, type Mode, type Section } from "./lib/report";
import { readyTenant, type Stack } from "./lib/stack";

const BATCH = 100;
const CHUNK = 64 * 1024;

export async function dataPaths(stack: Stack, mode: Mode): Promise<Section[]> {
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_AUDIT: "on", BROKER_INSTANCE_ID: "data-paths" });
  const tenant = await readyTenant(stack, broker.api, "bench-data-paths", "aws");
  return [await batchSection(broker, tenant, mode), await streamSection(broker, tenant, mode)];
}

type Broker = Awaited<ReturnType<Stack["broker"]>>;

async function batchSection(broker: Broker, tenant: { slug: string; token: string }, mode: Mode): Promise<Section> {
  const load: LoadOptions = mode.quick ? { connections: 64, warmupS: 1, durationS: 2, runs: 1 } : { connections: 64, warmupS: 3, durationS: 8, runs: 3 };
  const r = await broker.api.encrypt(tenant.slug, tenant.token, randomBytes(1024));
  if (r.status !== 200) throw new Error(`encrypt: ${r.status} ${JSON.stringify(r.body)}`);
  const ciphertext: string = r.body.ciphertext;
  const headers = { authorization: `Bearer ${tenant.token}` };
  const targets: Target[] = [
    { name: "single", url: broker.url, pid: broker.pid, path: `/api/v1/tenants/${tenant.slug}/decrypt`, body: JSON.stringify({ ciphertext }), headers },
    {
      name: "batch",
      url: broker.url,
      pid: broker.pid,
      path: `/api/v1/tenants/${tenant.slug}/decrypt/batch`,
      body: JSON.stringify({ items: Array.from({ length: BATCH }, () => ({ ciphertext })) }),
      headers,
    },
  ];
  const f = await measureInterleaved(targets, load);
  const single = f.get("single")!;
  const batch = f.get("batch")!;
  const items = batch.rps * BATCH;
  return {
    title: `Batch decrypt (${BATCH} x 1 KiB per request) vs single decrypts (1 KiB), cached DEK, ${load.connections} connections, audit on`,
    rows: [
      ["single: req/s (p99)", `${single.rps} (${single.p99} ms)`],
      ["single: errors; cores", `${single.errors}; ${fmtCores(single.cores)}`],
      ["batch: req/s (p99)", `${batch.rps} (${batch.p99} ms)`],
      ["batch: items/s", `${Math.round(items)}`],
      ["batch: errors; cores", `${batch.errors}; ${fmtCores(batch.cores)}`],
      ["ratio batch items/s / single req/s", ratio(items, single.rps).toFixed(1), ">= 5"],
    ],
    notes: [`${load.runs} rounds of ${load.durationS} s, single and batch interleaved; every batch item is its own audit entry (one group commit per batch).`],
    data: { single, batch, itemsPerSecond: items },
  };
}

/** Deterministic input without holding it: a random block repeated, its first bytes a counter. */
function* input(total: number): Generator<Buffer> {
  const base = randomBytes(CHUNK);
  for (let at = 0, i = 0; at < total; at += CHUNK, i++) {
    const b = Buffer.from(base);
    b.writeDoubleBE(i, 0);
    yield at + CHUNK <= total ? b : b.subarray(0, total - at);
  }
}

/** POSTs `body` to a stream route and pipes the answer into `sink`; resolves with the seconds taken. */
async function streamThrough(broker: Broker, tenant: { slug: string; token: string }, op: "encrypt" | "decrypt", body: Readable, sink: Writable): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${broker.url}/api/v1/tenants/${tenant.slug}/${op}/stream`, {
      method: "POST",
      agent: false,
      headers: { authorization: `Bearer ${tenant.token}`, "content-type": "application/octet-stream" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${op}/stream: ${res.statusCode}`));
      pipeline(res, sink).then(() => (res.trailers["x-cmek-stream"] === "complete" ? resolve() : reject(new Error(`${op}/stream ended without its completion trailer`))), reject);
    });
    pipeline(body, req).catch(reject);
  });
  return (performance.now() - started) / 1000;
}

function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** Raw AES-256-GCM of the same bytes in 64 KiB updates, one key, one process (the bench's). */
function rawGcm(total: number): { sealS: number; openS: number } {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const t0 = performance.now();
  const c = createCipheriv("aes-256-gcm", key, iv);
  for (const b of input(total)) c.update(b);
  c.final();
  const t1 = performance.now();
  const d = createDecipheriv("aes-256-gcm", key, iv);
  d.setAuthTag(c.getAuthTag());
  // Decrypting the same bytes costs the same as decrypting the ciphertext; the tag is not checked.
  for (const b of input(total)) d.update(b);
  const t2 = performance.now();
  return { sealS: (t1 - t0) / 1000, openS: (t2 - t1) / 1000 };
}

async function streamSection(broker: Broker, tenant: { slug: string; token: string }, mode: Mode): Promise<Section> {
  const total = mode.quick ? 64 * 2 ** 20 : 2 ** 30;
  const mib = total / 2 ** 20;
  const dir = mkdtempSync(path.join(tmpdir(), "cmek-bench-stream-"));
  const file = path.join(dir, "sealed.bin");
  const baseline = rssMiB(broker.pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(broker.pid))), 100);
  let encS: number;
  let decS: number;
  try {
    encS = await streamThrough(broker, tenant, "encrypt", Readable.from(input(total), { objectMode: false }), createWriteStream(file));
    decS = await streamThrough(broker, tenant, "decrypt", createReadStream(file, { highWaterMark: CHUNK }), discard());
  } finally {
    clearInterval(sampler);
    rmSync(dir, { recursive: true, force: true });
  }
  const raw = rawGcm(total);
  const rate = (s: number) => mib / s;
  return {
    title: `Streaming ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} through /encrypt/stream and /decrypt/stream (64 KiB frames) vs raw AES-256-GCM in one process`,
    rows: [
      ["encrypt stream: MiB/s", rate(encS).toFixed(0)],
      ["decrypt stream: MiB/s", rate(decS).toFixed(0)],
      ["raw AES-256-GCM seal / open: MiB/s", `${rate(raw.sealS).toFixed(0)} / ${rate(raw.openS).toFixed(0)}`],
      ["ratio encrypt stream / raw seal", ratio(rate(encS), rate(raw.sealS)).toFixed(2)],
      ["ratio decrypt stream / raw open", ratio(rate(decS), rate(raw.openS)).toFixed(2)],
      ["broker RSS: before / peak while streaming", `${baseline.toFixed(0)} / ${peak.toFixed(0)} MiB`],
    ],
    notes: [
      "The client (this process) generates the input on the fly, writes the sealed stream to a temporary file and reads it back for decryption; both share the 2 cores with the broker.",
      "Raw AES-256-GCM: node:crypto in this process, one key, 64 KiB updates, no HTTP, no framing, no audit.",
    ],
    data: { bytes: total, encryptS: encS, decryptS: decS, raw, rssMiB: { baseline, peak } },
  };
}
