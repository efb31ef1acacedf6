// Gigabytes through the API in constant memory: generated on the fly, piped through
// /encrypt/stream, its output piped straight into /decrypt/stream, and the plaintext that comes
// back compared with the input as it arrives; the process's RSS is sampled throughout. The broker,
// the emulators and this client share the process, so the bound covers all three.
// STREAM_TEST_GIB sets the size, 2 GiB by default (about 35 s on a quiet 2-core machine, minutes on
// a loaded one); memory must not grow with it (measured: +131 MiB at 0.25 GiB, +152 MiB at 2 GiB).
import { randomBytes } from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { contextHeader, streamCall } from "../support/stream-http";

const GIB = Number(process.env.STREAM_TEST_GIB ?? "2");
const TOTAL = Math.round(GIB * 2 ** 30);
/** RSS growth allowed over the baseline, whatever the size (broker, emulators and client in one process): 1/8 of 2 GiB. */
const RSS_BOUND_BYTES = 256 * 2 ** 20;
const BLOCK = 2 ** 20;
const base = randomBytes(BLOCK);

/** Block i of the input: the base block with i in its first 8 bytes (so no two frames are alike). */
function block(i: number, into: Buffer): Buffer {
  base.copy(into);
  into.writeDoubleBE(i, 0);
  return into;
}

function* input(): Generator<Buffer> {
  for (let at = 0, i = 0; at < TOTAL; at += BLOCK, i++) {
    const b = block(i, Buffer.allocUnsafe(BLOCK));
    yield at + BLOCK <= TOTAL ? b : b.subarray(0, TOTAL - at);
  }
}

/** Compares the output with the input as it arrives, without keeping either. */
class Checker {
  at = 0;
  mismatch = -1;
  private readonly expected = Buffer.allocUnsafe(BLOCK);
  private current = -1;

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.mismatch < 0) {
      const i = Math.floor(this.at / BLOCK);
      if (i !== this.current) block((this.current = i), this.expected);
      const inBlock = this.at % BLOCK;
      const n = Math.min(chunk.length - off, BLOCK - inBlock);
      if (!chunk.subarray(off, off + n).equals(this.expected.subarray(inBlock, inBlock + n))) this.mismatch = this.at;
      off += n;
      this.at += n;
    }
  }
}

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  token = await h.api.readyTenant("bigstream", "aws", (await h.aws.createKeyForVendor()).keyArn);
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  await h?.close();
});

test(`${GIB} GiB round trip through the API in bounded memory`, async () => {
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const started = performance.now();
  const context = { object: "s3://bucket/huge.bin" };
  const check = new Checker();
  try {
    // The encrypt response is the decrypt request's body (piped, so backpressure runs end to end).
    const encrypted = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${h.runtime.url}/api/v1/tenants/bigstream/encrypt/stream`, {
        method: "POST",
        agent: false,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", "x-cmek-context": contextHeader(context) },
      });
      req.on("response", resolve).on("error", reject);
      pipeline(Readable.from(input(), { objectMode: false }), req).catch(reject);
    });
    expect(encrypted.statusCode).toBe(200);
    const decrypted = await streamCall(h.runtime.url, "/api/v1/tenants/bigstream/decrypt/stream", { token, input: encrypted, context, collect: false, onData: (c) => check.push(c) });
    expect(encrypted.complete).toBe(true);
    expect(encrypted.trailers["x-cmek-stream"]).toBe("complete");
    expect(decrypted.status).toBe(200);
    expect(decrypted.aborted).toBe(false);
    expect(decrypted.trailers["x-cmek-stream"]).toBe("complete");
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  const growth = peak - baseline;
  console.log(`stream round trip: ${GIB} GiB in ${seconds.toFixed(1)} s (${(TOTAL / 2 ** 20 / seconds).toFixed(0)} MiB/s each way), RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(0)} MiB)`);
  expect(check.mismatch).toBe(-1);
  expect(check.at).toBe(TOTAL);
  expect(growth).toBeLessThan(RSS_BOUND_BYTES);
}, Math.max(120_000, GIB * 600_000));
