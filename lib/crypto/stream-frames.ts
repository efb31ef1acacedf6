// The broker's streaming format (stream format version 1, first byte 0x02 so that a record of
// lib/crypto/envelope.ts, whose first byte is 0x01, is never mistaken for a stream):
//
//   header (53 bytes)
//     0    1   format byte (0x02)
//     1    16  tenant id (UUID bytes)
//     17   16  DEK id (UUID bytes)
//     33   16  stream nonce (random, 128 bits, one per stream)
//     49   4   frame size: plaintext bytes of every frame but the last (uint32 BE, 1 .. 1 MiB)
//   a stream of a data class other than `default` (issue 12) has format byte 0x04 and 16 more
//   header bytes, the class id (data_class.id), after the frame size (69 bytes in all); the rest
//   is the same, and the class is bound like every header byte (HKDF info, frame AAD)
//   frames, in order, numbered from 0
//     0    1   kind: 0x00 regular, 0x01 final (exactly one final frame, the last)
//     1    4   plaintext length (uint32 BE): the frame size for a regular frame, 0 .. frame size for the final one
//     5    n   AES-256-GCM ciphertext
//     5+n  16  GCM tag
//
// (Opening is in stream-opener.ts.) Each stream seals under its own key, HKDF-SHA256(DEK, salt =
// stream nonce, info = label || header): the DEK itself never meets a GCM nonce here, so streams do
// not spend the DEK's random-nonce budget (NIST SP 800-38D) however many frames they have. Frame
// i's nonce is the stream's 96-bit base IV (from the same HKDF output) XOR i in its last 8 bytes
// (as in TLS 1.3), unique within the stream. AAD = header || canonical context || frame number
// (uint64 BE) || final flag (1 byte), so a frame verifies only in its own stream, position and
// role: a flipped byte, a dropped, reordered or repeated frame, a frame of another stream (or
// tenant, DEK or context), a final flag moved, and a stream cut after any regular frame all fail.
import { createCipheriv, createSecretKey, hkdfSync, randomFillSync, type KeyObject } from "node:crypto";
import { canonicalContext, type EncryptionContext } from "./canonical-context";
import type { DataKeyMaterial } from "./data-key-material";
import { bytesToUuid, uuidToBytes } from "./envelope";
import { InvalidCiphertextError } from "./errors";

export const STREAM_FORMAT_BYTE = 0x02;
/** The format byte of a stream of a data class other than `default`. */
export const STREAM_FORMAT_BYTE_CLASSED = 0x04;
/** The header of a `default` stream; a class's stream has CLASSED_STREAM_HEADER_BYTES. */
export const STREAM_HEADER_BYTES = 1 + 16 + 16 + 16 + 4;
export const CLASSED_STREAM_HEADER_BYTES = STREAM_HEADER_BYTES + 16;
export const FRAME_PREFIX_BYTES = 5;
export const FRAME_TAG_BYTES = 16;
export const DEFAULT_FRAME_BYTES = 64 * 1024;
export const MAX_FRAME_BYTES = 1024 * 1024;
export const KIND_REGULAR = 0x00;
export const KIND_FINAL = 0x01;
const KEY_LABEL = Buffer.from("cmek-broker stream v1", "utf8");

/** Why a stream failed to open; every kind is a ciphertext the broker refuses. */
export type StreamFailure = "bad_header" | "bad_frame" | "tag_mismatch" | "truncated" | "trailing_data" | "key_lost";

export class StreamFrameError extends InvalidCiphertextError {
  constructor(
    readonly failure: StreamFailure,
    message: string,
    /** The number of the frame that failed (frames before it verified). */
    readonly frame?: number,
  ) {
    super(message);
  }
}

export interface StreamHeader {
  tenantId: string;
  dekId: string;
  /** The data class the stream names (format byte 0x04); null for a `default` stream. */
  classId: string | null;
  frameBytes: number;
  /** The header's bytes (53, or 69 with a class), as sent: bound into every frame's AAD. */
  bytes: Buffer;
}

export function newStreamHeader(ids: { tenantId: string; dekId: string; classId?: string | null }, frameBytes = DEFAULT_FRAME_BYTES): StreamHeader {
  if (!Number.isInteger(frameBytes) || frameBytes < 1 || frameBytes > MAX_FRAME_BYTES) throw new RangeError(`frame size must be 1 .. ${MAX_FRAME_BYTES} bytes`);
  const classId = ids.classId ?? null;
  const bytes = Buffer.alloc(classId === null ? STREAM_HEADER_BYTES : CLASSED_STREAM_HEADER_BYTES);
  bytes[0] = classId === null ? STREAM_FORMAT_BYTE : STREAM_FORMAT_BYTE_CLASSED;
  uuidToBytes(ids.tenantId).copy(bytes, 1);
  uuidToBytes(ids.dekId).copy(bytes, 17);
  randomFillSync(bytes, 33, 16);
  bytes.writeUInt32BE(frameBytes, 49);
  if (classId !== null) uuidToBytes(classId).copy(bytes, STREAM_HEADER_BYTES);
  return { tenantId: ids.tenantId, dekId: ids.dekId, classId, frameBytes, bytes };
}

/** How many header bytes a stream whose first byte is `formatByte` has; throws for a byte that starts no stream. */
export function streamHeaderLength(formatByte: number): number {
  if (formatByte === STREAM_FORMAT_BYTE) return STREAM_HEADER_BYTES;
  if (formatByte === STREAM_FORMAT_BYTE_CLASSED) return CLASSED_STREAM_HEADER_BYTES;
  throw new StreamFrameError("bad_header", formatByte === 0x01 || formatByte === 0x03 ? "this is a single ciphertext record, not a stream; use /decrypt" : "unknown stream format");
}

/** Parses the header at the start of `bytes` (streamHeaderLength of its first byte), unauthenticated: it only says which DEK to fetch. */
export function parseStreamHeader(bytes: Buffer): StreamHeader {
  if (bytes.length < 1) throw new StreamFrameError("truncated", "stream ends inside its header");
  const length = streamHeaderLength(bytes[0]!);
  if (bytes.length < length) throw new StreamFrameError("truncated", "stream ends inside its header");
  const frameBytes = bytes.readUInt32BE(49);
  if (frameBytes < 1 || frameBytes > MAX_FRAME_BYTES) throw new StreamFrameError("bad_header", `frame size ${frameBytes} is outside 1 .. ${MAX_FRAME_BYTES}`);
  const head = Buffer.from(bytes.subarray(0, length));
  const classId = length === CLASSED_STREAM_HEADER_BYTES ? bytesToUuid(head.subarray(STREAM_HEADER_BYTES, CLASSED_STREAM_HEADER_BYTES)) : null;
  return { tenantId: bytesToUuid(head.subarray(1, 17)), dekId: bytesToUuid(head.subarray(17, 33)), classId, frameBytes, bytes: head };
}

/** The per-stream key and base IV, derived from a live DEK; zeroed by destroy(). */
class StreamKey {
  private readonly okm: Buffer;
  /**
   * The stream key as a KeyObject, made once: a Buffer key costs Node 24 two thrown and caught
   * exceptions per cipher (see DataKeyMaterial.cipherKey), 13% of a stream's CPU at one cipher
   * per 64 KiB frame. Its native copy is cleared by Node when collected; destroy() drops it.
   */
  private key: KeyObject | null;
  readonly baseIv: Buffer;

  constructor(dek: DataKeyMaterial, header: StreamHeader) {
    const salt = header.bytes.subarray(33, 49);
    this.okm = Buffer.from(hkdfSync("sha256", dek.key(), salt, Buffer.concat([KEY_LABEL, header.bytes]), 44));
    this.key = createSecretKey(this.okm.subarray(0, 32));
    this.baseIv = this.okm.subarray(32, 44);
  }

  /** The key for one frame's cipher. */
  cipherKey(): KeyObject {
    if (!this.key) throw new Error("stream key was destroyed");
    return this.key;
  }

  nonce(frame: number): Buffer {
    const iv = Buffer.from(this.baseIv);
    const hi = Math.floor(frame / 2 ** 32);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ hi) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ frame) >>> 0, 8);
    return iv;
  }

  destroy(): void {
    this.okm.fill(0);
    this.key = null;
  }
}

/** State both directions share: the header, the context bound as AAD, the DEK and the stream key derived from it. */
export abstract class FramedStream {
  protected key: StreamKey | null;
  protected frame = 0;
  private readonly aadPrefix: Buffer;

  protected constructor(
    protected dek: DataKeyMaterial,
    readonly header: StreamHeader,
    context: EncryptionContext | undefined,
  ) {
    this.aadPrefix = Buffer.concat([header.bytes, canonicalContext(context)]);
    this.key = new StreamKey(dek, header);
  }

  /** Frames sealed, or verified, so far. */
  get frames(): number {
    return this.frame;
  }

  /** True once the DEK this stream was keyed from has been destroyed (a lock, an eviction, a refresh replaced it). */
  get keyLost(): boolean {
    return this.dek.destroyed;
  }

  /** Re-keys from a live copy of the same DEK (the cache's current material for this DEK id). */
  rekey(dek: DataKeyMaterial): void {
    this.key?.destroy();
    this.dek = dek;
    this.key = new StreamKey(dek, this.header);
  }

  /** Zeroes the stream key; further use throws. */
  destroy(): void {
    this.key?.destroy();
    this.key = null;
  }

  protected liveKey(): StreamKey {
    if (!this.key || this.dek.destroyed) {
      this.destroy();
      throw new StreamFrameError("key_lost", "the data key was withdrawn during the stream", this.frame);
    }
    return this.key;
  }

  protected aad(frame: number, final: boolean): Buffer {
    const aad = Buffer.allocUnsafe(this.aadPrefix.length + 9);
    this.aadPrefix.copy(aad, 0);
    aad.writeBigUInt64BE(BigInt(frame), this.aadPrefix.length);
    aad[this.aadPrefix.length + 8] = final ? 1 : 0;
    return aad;
  }
}

/** Plaintext in, the header and sealed frames out; memory is one frame whatever the input's size. */
export class StreamSealer extends FramedStream {
  private readonly pending: Buffer;
  private filled = 0;
  private headerSent = false;
  private ended = false;

  constructor(dek: DataKeyMaterial, header: StreamHeader, context?: EncryptionContext) {
    super(dek, header, context);
    this.pending = Buffer.alloc(header.frameBytes);
  }

  /** Sealed output for this chunk: the header first, then every frame the chunk completed. */
  update(chunk: Buffer): Buffer[] {
    if (this.ended) throw new Error("stream already finished");
    const out = this.takeHeader();
    let at = 0;
    while (at < chunk.length) {
      // A full frame is sealed as a regular one only once more input shows it is not the last.
      if (this.filled === this.pending.length) out.push(this.seal(false));
      const n = Math.min(chunk.length - at, this.pending.length - this.filled);
      chunk.copy(this.pending, this.filled, at, at + n);
      this.filled += n;
      at += n;
    }
    return out;
  }

  /** The last (final) frame, holding whatever input is still pending (possibly none). */
  final(): Buffer[] {
    if (this.ended) throw new Error("stream already finished");
    const out = this.takeHeader();
    out.push(this.seal(true));
    this.ended = true;
    this.destroy();
    return out;
  }

  private takeHeader(): Buffer[] {
    if (this.headerSent) return [];
    this.headerSent = true;
    return [this.header.bytes];
  }

  private seal(final: boolean): Buffer {
    const key = this.liveKey();
    const n = this.filled;
    const cipher = createCipheriv("aes-256-gcm", key.cipherKey(), key.nonce(this.frame));
    cipher.setAAD(this.aad(this.frame, final));
    const frame = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + n + FRAME_TAG_BYTES);
    frame[0] = final ? KIND_FINAL : KIND_REGULAR;
    frame.writeUInt32BE(n, 1);
    const body = cipher.update(this.pending.subarray(0, n));
    body.copy(frame, FRAME_PREFIX_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(frame, FRAME_PREFIX_BYTES + n);
    this.pending.fill(0, 0, n);
    this.filled = 0;
    this.frame++;
    return frame;
  }

  override destroy(): void {
    super.destroy();
    this.pending.fill(0);
  }
}
