// Streaming encrypt and decrypt through the real API (PostgreSQL, the AWS emulator): round
// trips, and every kind of tampering failing with a typed error (422 before the first byte, an
// aborted response after it) without releasing a byte that did not verify; audited either way.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FRAME_BYTES, FRAME_PREFIX_BYTES, FRAME_TAG_BYTES, STREAM_HEADER_BYTES } from "@/lib/crypto/stream-frames";
import { startHarness, type Harness } from "../support/broker-harness";
import { streamCall, type StreamCall } from "../support/stream-http";

let h: Harness;
let token: string;
let otherToken: string;
const ctx = { file: "q3.pdf" };

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  token = await h.api.readyTenant("streams", "aws", (await h.aws.createKeyForVendor()).keyArn);
  otherToken = await h.api.readyTenant("streams-other", "aws", (await h.aws.createKeyForVendor()).keyArn);
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  await h?.close();
});

const enc = (call: Omit<StreamCall, "token"> & { token?: string }, slug = "streams") => streamCall(h.runtime.url, `/api/v1/tenants/${slug}/encrypt/stream`, { token, ...call });
const dec = (call: Omit<StreamCall, "token"> & { token?: string }, slug = "streams") => streamCall(h.runtime.url, `/api/v1/tenants/${slug}/decrypt/stream`, { token, ...call });

/** [start, end) of each frame of a sealed stream. */
function frames(stream: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = STREAM_HEADER_BYTES; at < stream.length; ) {
    const end = at + FRAME_PREFIX_BYTES + stream.readUInt32BE(at + 1) + FRAME_TAG_BYTES;
    out.push([at, end]);
    at = end;
  }
  return out;
}

async function audit(requestId: string) {
  const r = await h.api.admin("GET", `/api/v1/tenants/streams/audit?requestId=${requestId}`);
  return (r.body.events as Array<{ action: string; outcome: string; reason: string | null; bytes: number | null; purpose: string | null; detail: { stream: string; frames?: number } }>)
    .filter((e) => e.action === "encrypt" || e.action === "decrypt")
    .reverse();
}

const plain = randomBytes(5 * DEFAULT_FRAME_BYTES + 1234);
let sealed: Buffer;

describe("streams", () => {
  it("round-trips a multi-frame input in arbitrary chunks, ending with the completion trailer, audited opened and closed", async () => {
    const chunks = function* () {
      for (let at = 0; at < plain.length; at += 10_007) yield plain.subarray(at, at + 10_007);
    };
    const e = await enc({ input: Readable.from(chunks()), context: ctx, purpose: "backup", requestId: "stream-enc-1" });
    expect(e.status).toBe(200);
    expect(e.headers["content-type"]).toBe("application/octet-stream");
    expect(e.trailers["x-cmek-stream"]).toBe("complete");
    sealed = e.body;
    expect(frames(sealed).length).toBe(6);
    const d = await dec({ input: sealed, context: ctx, requestId: "stream-dec-1" });
    expect(d.status).toBe(200);
    expect(d.aborted).toBe(false);
    expect(d.trailers["x-cmek-stream"]).toBe("complete");
    expect(d.body.equals(plain)).toBe(true);
    expect((await audit("stream-enc-1")).map((a) => `${a.action}:${a.outcome}:${a.detail.stream}:${a.bytes ?? "-"}:${a.detail.frames ?? "-"}:${a.purpose}`)).toEqual([
      "encrypt:success:opened:-:-:backup",
      `encrypt:success:closed:${plain.length}:6:backup`,
    ]);
    expect((await audit("stream-dec-1")).map((a) => `${a.outcome}:${a.detail.stream}:${a.bytes ?? "-"}`)).toEqual(["success:opened:-", `success:closed:${plain.length}`]);
    // An empty stream is a header and one empty final frame.
    const empty = await enc({ input: Buffer.alloc(0) });
    expect(empty.body.length).toBe(STREAM_HEADER_BYTES + FRAME_PREFIX_BYTES + FRAME_TAG_BYTES);
    const back = await dec({ input: empty.body });
    expect([back.status, back.body.length, back.trailers["x-cmek-stream"]]).toEqual([200, 0, "complete"]);
  });

  it("a bad first frame, another context, another tenant or garbage is 422 before any byte, audited", async () => {
    const first = Buffer.from(sealed);
    first[STREAM_HEADER_BYTES + 100]! ^= 1;
    for (const [input, context, slug, tok] of [
      [first, ctx, "streams", token],
      [sealed, { file: "other.pdf" }, "streams", token],
      [sealed, ctx, "streams-other", otherToken],
      [randomBytes(500), ctx, "streams", token],
      [sealed.subarray(0, 20), ctx, "streams", token],
    ] as const) {
      const r = await dec({ input, context, token: tok, requestId: "stream-422" }, slug);
      expect(r.status).toBe(422);
      expect(r.json?.error.code).toBe("invalid_ciphertext");
      expect(r.body.length).toBeLessThan(1000);
    }
    // The DEK was used (opened) for the first two; another tenant's stream is in that tenant's log.
    expect((await audit("stream-422")).map((a) => `${a.outcome}:${a.reason ?? ""}`)).toEqual([
      "success:",
      "invalid:stream_tag_mismatch",
      "success:",
      "invalid:stream_tag_mismatch",
      "invalid:stream_bad_header",
      "invalid:stream_truncated",
    ]);
  });

  it("a flipped byte, a dropped frame, swapped frames, a truncated stream and another stream's frame abort after the verified frames only", async () => {
    const fr = frames(sealed);
    const part = (i: number) => sealed.subarray(fr[i]![0], fr[i]![1]);
    const head = sealed.subarray(0, STREAM_HEADER_BYTES);
    const other = (await enc({ input: plain, context: ctx })).body;
    const otherFrames = frames(other);
    const flipped = Buffer.from(sealed);
    flipped[fr[3]![0] + 9]! ^= 0x40;
    const cases: Array<[string, Buffer, number, string]> = [
      ["flipped", flipped, 3, "stream_tag_mismatch"],
      ["dropped", Buffer.concat([head, part(0), part(1), part(3), part(4), part(5)]), 2, "stream_tag_mismatch"],
      ["swapped", Buffer.concat([head, part(0), part(2), part(1), part(3), part(4), part(5)]), 1, "stream_tag_mismatch"],
      ["truncated", sealed.subarray(0, fr[4]![1]), 5, "stream_truncated"],
      ["cut inside a frame", sealed.subarray(0, fr[4]![1] + 1000), 5, "stream_truncated"],
      ["another stream's frame", Buffer.concat([head, part(0), part(1), other.subarray(otherFrames[2]![0], otherFrames[2]![1]), part(3), part(4), part(5)]), 2, "stream_tag_mismatch"],
      ["trailing data", Buffer.concat([sealed, Buffer.from("x")]), 5, "stream_trailing_data"],
    ];
    for (const [what, input, verified, reason] of cases) {
      const r = await dec({ input, context: ctx, requestId: `stream-bad-${what.replace(/\W/g, "-")}` });
      expect(r.status, what).toBe(200);
      expect(r.aborted, what).toBe(true);
      expect(r.trailers["x-cmek-stream"], what).toBeUndefined();
      // Nothing but verified frames left the broker, and they are the true plaintext's prefix.
      expect(r.body.length, what).toBeLessThanOrEqual(verified * DEFAULT_FRAME_BYTES);
      expect(r.body.equals(plain.subarray(0, r.body.length)), what).toBe(true);
      const entries = await audit(`stream-bad-${what.replace(/\W/g, "-")}`);
      expect(entries.map((a) => `${a.outcome}:${a.reason ?? ""}`), what).toEqual(["success:", `invalid:${reason}`]);
    }
  });

  it("refuses a JSON body (415), a bad context header (400), and a single record given as a stream (422)", async () => {
    const json = await h.api.call("POST", "/api/v1/tenants/streams/encrypt/stream", { token, body: { plaintext: "eA==" } });
    expect(json.status).toBe(415);
    expect(json.body.error.message).toMatch(/octet-stream/);
    const octetOnJson = await h.api.call("POST", "/api/v1/tenants/streams/encrypt", { token, rawBody: "abc", headers: { "content-type": "application/octet-stream" } });
    expect(octetOnJson.status).toBe(415);
    const badCtx = await h.api.call("POST", "/api/v1/tenants/streams/encrypt/stream", { token, rawBody: "abc", headers: { "content-type": "application/octet-stream", "x-cmek-context": "!!" } });
    expect(badCtx.status).toBe(400);
    const record = (await h.api.encrypt("streams", token, "a record")).body.ciphertext as string;
    const asStream = await dec({ input: Buffer.from(record, "base64") });
    expect(asStream.status).toBe(422);
    expect(asStream.json?.error.message).toMatch(/single ciphertext record/);
  });

  it("a lock during a stream aborts it at the next frame, audited as locked", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const source = async function* () {
      yield plain.subarray(0, 2 * DEFAULT_FRAME_BYTES + 10);
      await gate;
      yield plain.subarray(2 * DEFAULT_FRAME_BYTES + 10);
    };
    let got = 0;
    const pending = enc({ input: Readable.from(source()), requestId: "stream-locked", onData: (c) => (got += c.length) });
    const { waitFor } = await import("../support/wait");
    await waitFor(() => got >= 2 * DEFAULT_FRAME_BYTES, { what: "the first frames", timeoutMs: 20_000 });
    expect((await h.api.admin("POST", "/api/v1/tenants/streams/lock", { reason: "mid-stream" })).status).toBe(200);
    release();
    const r = await pending;
    expect(r.aborted).toBe(true);
    expect(frames(r.body).length).toBeLessThanOrEqual(3);
    expect((await audit("stream-locked")).map((a) => a.outcome)).toEqual(["success", "locked"]);
    expect((await h.api.admin("POST", "/api/v1/tenants/streams/unlock")).status).toBe(200);
    const after = await enc({ input: plain.subarray(0, 10) });
    expect(after.status).toBe(200);
    const hash = createHash("sha256").update(after.body).digest("hex");
    expect(hash).toHaveLength(64);
  });
});
