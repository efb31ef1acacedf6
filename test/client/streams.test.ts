// @cmek-broker/client's stream helpers against a real broker: Node streams (3 MiB, 49 frames), a Duplex in
// stream.pipeline, web streams; a wrong context is InvalidCiphertextError before any output; a
// flipped byte late in the stream errors the output stream (StreamInterruptedError) after a
// verified prefix only; a locked tenant is TenantLockedError.
import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BrokerClient, InvalidCiphertextError, StreamInterruptedError, TenantLockedError } from "@cmek-broker/client";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let c: BrokerClient;
const data = randomBytes(3 * 1024 * 1024 + 123);
const ctx = { file: "scan.pdf" };
let sealed: Buffer;

async function collect(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of s) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

async function collectWeb(s: ReadableStream<Uint8Array>): Promise<Buffer> {
  const reader = s.getReader();
  const parts: Buffer[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(Buffer.from(r.value));
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  const token = await h.api.readyTenant("cs-acme", "aws", (await h.aws.createKeyForVendor()).keyArn);
  c = new BrokerClient({ baseUrl: h.runtime.url, tenant: "cs-acme", token, timeoutMs: 30_000 });
  // Fed in 64 KiB pieces, as a file read would be.
  const pieces = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
  sealed = await collect(await c.encryptStream(Readable.from(pieces), { context: ctx, purpose: "stream-test" }));
});
afterAll(async () => {
  await c?.close();
  await h?.close();
});

test("Node streams: a 3 MiB round trip, with context and purpose", async () => {
  expect(sealed.length).toBeGreaterThan(data.length);
  const back = await collect(await c.decryptStream(sealed, { context: ctx }));
  expect(sha(back)).toBe(sha(data));
});

test("a Duplex for stream.pipeline, and web streams", async () => {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([sealed]),
    c.decryptTransform({ context: ctx }),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  expect(sha(Buffer.concat(out))).toBe(sha(data));

  const web = await c.encryptWebStream(new Blob([data.subarray(0, 300_000)]).stream(), { context: ctx });
  const again = await c.decryptWebStream(web, { context: ctx });
  expect(sha(await collectWeb(again))).toBe(sha(data.subarray(0, 300_000)));
});

test("a wrong context is InvalidCiphertextError before any plaintext", async () => {
  const err = await c.decryptStream(sealed, { context: { file: "other.pdf" } }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidCiphertextError);
});

test("a flipped byte near the end errors the output stream after a verified prefix only", async () => {
  const bad = Buffer.from(sealed);
  bad[bad.length - 100]! ^= 1;
  const out = await c.decryptStream(bad, { context: ctx });
  const got: Buffer[] = [];
  const err = await (async () => {
    for await (const p of out) got.push(p as Buffer);
  })().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StreamInterruptedError);
  const prefix = Buffer.concat(got);
  expect(prefix.length).toBeLessThan(data.length);
  expect(prefix.equals(data.subarray(0, prefix.length))).toBe(true);
});

test("a locked tenant is TenantLockedError", async () => {
  const token = await h.api.readyTenant("cs-locked", "aws", (await h.aws.createKeyForVendor()).keyArn);
  expect((await h.api.admin("POST", "/api/v1/tenants/cs-locked/lock", { reason: "stream drill" })).status).toBe(200);
  const locked = new BrokerClient({ baseUrl: h.runtime.url, tenant: "cs-locked", token });
  try {
    const err = await locked.encryptStream(data.subarray(0, 1000)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TenantLockedError);
    expect((err as TenantLockedError).reason).toContain("stream drill");
  } finally {
    await locked.close();
  }
});
