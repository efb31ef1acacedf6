// The streaming frame format (lib/crypto/stream-frames.ts): round trips at every boundary, and
// each kind of tampering fails with a typed error before any unverified plaintext is released.
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import { InvalidCiphertextError } from "@/lib/crypto/errors";
import {
  FRAME_PREFIX_BYTES,
  FRAME_TAG_BYTES,
  newStreamHeader,
  parseStreamHeader,
  STREAM_HEADER_BYTES,
  StreamFrameError,
  StreamSealer,
  type StreamFailure,
} from "@/lib/crypto/stream-frames";
import { StreamOpener } from "@/lib/crypto/stream-opener";

const tenantId = randomUUID();
const dekId = randomUUID();
const dek = DataKeyMaterial.generate();
const ctx = { file: "report.pdf" };

function seal(plain: Buffer, frameBytes: number, chunk = 7, context: Record<string, string> | null = ctx, key = dek): Buffer {
  const s = new StreamSealer(key, newStreamHeader({ tenantId, dekId }, frameBytes), context ?? undefined);
  const out: Buffer[] = [];
  for (let i = 0; i < plain.length; i += chunk) out.push(...s.update(plain.subarray(i, i + chunk)));
  out.push(...s.final());
  return Buffer.concat(out);
}

/** Opens a stream chunk by chunk; returns what was released before the failure, and the failure. */
function open(stream: Buffer, chunk = 5, context: Record<string, string> | null = ctx, key = dek): { released: Buffer; error?: StreamFrameError } {
  const released: Buffer[] = [];
  try {
    const header = parseStreamHeader(stream.subarray(0, STREAM_HEADER_BYTES));
    const o = new StreamOpener(key, header, context ?? undefined);
    const body = stream.subarray(STREAM_HEADER_BYTES);
    for (let i = 0; i < body.length; i += chunk) released.push(...o.update(body.subarray(i, i + chunk)));
    released.push(...o.final());
    return { released: Buffer.concat(released) };
  } catch (e) {
    expect(e).toBeInstanceOf(StreamFrameError);
    expect(e).toBeInstanceOf(InvalidCiphertextError);
    return { released: Buffer.concat(released), error: e as StreamFrameError };
  }
}

/** The byte offsets of each frame in a sealed stream. */
function frames(stream: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = STREAM_HEADER_BYTES;
  while (at < stream.length) {
    const len = stream.readUInt32BE(at + 1);
    out.push([at, at + FRAME_PREFIX_BYTES + len + FRAME_TAG_BYTES]);
    at += FRAME_PREFIX_BYTES + len + FRAME_TAG_BYTES;
  }
  return out;
}

function expectFailure(r: { released: Buffer; error?: StreamFrameError }, failure: StreamFailure, plain: Buffer, verifiedFrames: number, frameBytes: number) {
  expect(r.error?.failure).toBe(failure);
  // Only frames that verified were released, and they are the true plaintext's prefix.
  expect(r.released.length).toBeLessThanOrEqual(verifiedFrames * frameBytes);
  expect(r.released.equals(plain.subarray(0, r.released.length))).toBe(true);
}

describe("stream frames", () => {
  it("round-trips empty, partial, exact and multi-frame inputs at any chunking", () => {
    for (const size of [0, 1, 15, 16, 17, 32, 33, 1000]) {
      const plain = randomBytes(size);
      for (const chunk of [1, 5, 16, 1024]) {
        const sealed = seal(plain, 16, chunk);
        expect(frames(sealed).length).toBe(Math.max(1, Math.ceil(size / 16)));
        const r = open(sealed, chunk);
        expect(r.error).toBeUndefined();
        expect(r.released.equals(plain)).toBe(true);
      }
    }
  });

  it("binds the frame size, tenant and DEK into the header it parses", () => {
    const h = parseStreamHeader(seal(Buffer.from("x"), 64 * 1024));
    expect(h).toMatchObject({ tenantId, dekId, frameBytes: 64 * 1024 });
  });

  it("a flipped byte anywhere fails, releasing only the frames before it", () => {
    const plain = randomBytes(100);
    const sealed = seal(plain, 16);
    const fr = frames(sealed);
    for (const [i, [start, end]] of fr.entries()) {
      for (const off of [start + FRAME_PREFIX_BYTES, end - 1]) {
        const bad = Buffer.from(sealed);
        bad[off]! ^= 0x01;
        const r = open(bad);
        expectFailure(r, "tag_mismatch", plain, i, 16);
        expect(r.error?.frame).toBe(i);
      }
    }
    const badHeader = Buffer.from(sealed);
    badHeader[40]! ^= 0x01; // the stream nonce: another stream key
    expectFailure(open(badHeader), "tag_mismatch", plain, 0, 16);
  });

  it("a dropped, swapped or repeated frame fails", () => {
    const plain = randomBytes(80);
    const sealed = seal(plain, 16);
    const fr = frames(sealed).map(([s, e]) => sealed.subarray(s, e));
    const head = sealed.subarray(0, STREAM_HEADER_BYTES);
    expectFailure(open(Buffer.concat([head, fr[0]!, fr[2]!, fr[3]!, fr[4]!])), "tag_mismatch", plain, 1, 16);
    expectFailure(open(Buffer.concat([head, fr[1]!, fr[0]!, ...fr.slice(2)])), "tag_mismatch", plain, 0, 16);
    expectFailure(open(Buffer.concat([head, fr[0]!, fr[0]!, ...fr.slice(1)])), "tag_mismatch", plain, 1, 16);
  });

  it("a stream cut after any frame, or inside one, is truncated; data after the final frame is refused", () => {
    const plain = randomBytes(64);
    const sealed = seal(plain, 16);
    for (const [i, [, end]] of frames(sealed).entries()) {
      if (end === sealed.length) continue;
      expectFailure(open(sealed.subarray(0, end)), "truncated", plain, i + 1, 16);
      expectFailure(open(sealed.subarray(0, end + 3)), "truncated", plain, i + 1, 16);
    }
    expectFailure(open(sealed.subarray(0, 20)), "truncated", plain, 0, 16);
    // A final flag cannot be forged onto a regular frame: the AAD says which it is.
    const fr = frames(sealed);
    const forged = Buffer.from(sealed.subarray(0, fr[1]![1]));
    forged[fr[1]![0]] = 0x01;
    expectFailure(open(forged), "tag_mismatch", plain, 1, 16);
    const trailing = open(Buffer.concat([sealed, Buffer.from([0])]));
    expectFailure(trailing, "trailing_data", plain, 4, 16);
    // The final frame's plaintext is held back: nothing of it is released with trailing data.
    expect(trailing.released.length).toBe(48);
  });

  it("frames of another stream, context, DEK or tenant do not verify", () => {
    const plain = randomBytes(48);
    const a = seal(plain, 16);
    const b = seal(plain, 16);
    const fa = frames(a).map(([s, e]) => a.subarray(s, e));
    const fb = frames(b).map(([s, e]) => b.subarray(s, e));
    // Same DEK, same context, same position: still another stream.
    expectFailure(open(Buffer.concat([a.subarray(0, STREAM_HEADER_BYTES), fa[0]!, fb[1]!, fa[2]!])), "tag_mismatch", plain, 1, 16);
    expectFailure(open(Buffer.concat([b.subarray(0, STREAM_HEADER_BYTES), ...fa])), "tag_mismatch", plain, 0, 16);
    expectFailure(open(a, 5, { file: "other.pdf" }), "tag_mismatch", plain, 0, 16);
    expectFailure(open(a, 5, null), "tag_mismatch", plain, 0, 16);
    expectFailure(open(a, 5, ctx, DataKeyMaterial.generate()), "tag_mismatch", plain, 0, 16);
    const otherTenant = Buffer.from(a);
    otherTenant[1]! ^= 0x80;
    expectFailure(open(otherTenant), "tag_mismatch", plain, 0, 16);
  });

  it("refuses headers it cannot trust to bound memory, and single records", () => {
    const sealed = seal(Buffer.from("abc"), 16);
    const huge = Buffer.from(sealed);
    huge.writeUInt32BE(64 * 1024 * 1024, 49);
    expect(() => parseStreamHeader(huge)).toThrow(/frame size/);
    const record = Buffer.from(sealed);
    record[0] = 0x01;
    expect(() => parseStreamHeader(record)).toThrow(/single ciphertext record/);
    const wrongLength = Buffer.from(sealed);
    wrongLength.writeUInt32BE(17, STREAM_HEADER_BYTES + 1);
    expect(open(wrongLength).error?.failure).toBe("bad_frame");
  });

  it("stops, zeroing its key, once the DEK is destroyed (a lock), and continues after a rekey", () => {
    const own = DataKeyMaterial.generate();
    const copy = DataKeyMaterial.takeFrom(own.copy());
    const s = new StreamSealer(own, newStreamHeader({ tenantId, dekId }, 16));
    const first = s.update(randomBytes(40));
    expect(first.length).toBe(3); // header + two frames
    own.destroy();
    expect(s.keyLost).toBe(true);
    expect(() => s.update(randomBytes(20))).toThrow(StreamFrameError);
    const s2 = new StreamSealer(copy, newStreamHeader({ tenantId, dekId }, 16));
    const again = DataKeyMaterial.takeFrom(copy.copy());
    copy.destroy();
    s2.rekey(again);
    const plain = randomBytes(40);
    const out = Buffer.concat([...s2.update(plain), ...s2.final()]);
    const r = open(out, 5, null, again);
    expect(r.error).toBeUndefined();
    expect(r.released.equals(plain)).toBe(true);
  });
});
