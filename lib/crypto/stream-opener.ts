// Opening a stream of the format described in stream-frames.ts: frames in, plaintext out, a
// frame's plaintext only after its tag verified.
import { createDecipheriv } from "node:crypto";
import type { EncryptionContext } from "./canonical-context";
import type { DataKeyMaterial } from "./data-key-material";
import { FRAME_PREFIX_BYTES, FRAME_TAG_BYTES, FramedStream, KIND_FINAL, KIND_REGULAR, StreamFrameError, type StreamFailure, type StreamHeader } from "./stream-frames";

/**
 * The frames of a stream (after its header) in, verified plaintext out: a frame's plaintext is
 * returned only after its tag verified, and the final frame's only once `final()` has seen
 * that nothing follows it. Memory is one frame whatever the input's size.
 */
export class StreamOpener extends FramedStream {
  private readonly buf: Buffer;
  private have = 0;
  private need = FRAME_PREFIX_BYTES;
  private finalPlaintext: Buffer | null = null;
  private complete = false;

  constructor(dek: DataKeyMaterial, header: StreamHeader, context?: EncryptionContext) {
    super(dek, header, context);
    this.buf = Buffer.alloc(FRAME_PREFIX_BYTES + header.frameBytes + FRAME_TAG_BYTES);
  }

  /** Verified plaintext of every regular frame this chunk completed. */
  update(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.complete) throw this.fail("trailing_data", "data after the final frame");
      const n = Math.min(chunk.length - at, this.need - this.have);
      chunk.copy(this.buf, this.have, at, at + n);
      this.have += n;
      at += n;
      if (this.have < this.need) break;
      if (this.need === FRAME_PREFIX_BYTES) {
        this.need = FRAME_PREFIX_BYTES + this.checkPrefix() + FRAME_TAG_BYTES;
        if (this.have < this.need) continue;
      }
      const plain = this.open();
      if (this.complete) this.finalPlaintext = plain;
      else out.push(plain);
    }
    return out;
  }

  /** The final frame's plaintext, once the input ended right after it. */
  final(): Buffer[] {
    if (!this.complete) throw this.fail("truncated", this.have > 0 ? "stream ends inside a frame" : "stream ends without its final frame");
    const last = this.finalPlaintext!;
    this.finalPlaintext = null;
    this.destroy();
    return [last];
  }

  override destroy(): void {
    super.destroy();
    this.buf.fill(0);
    this.finalPlaintext?.fill(0);
    this.finalPlaintext = null;
  }

  private checkPrefix(): number {
    const kind = this.buf[0];
    const len = this.buf.readUInt32BE(1);
    if (kind !== KIND_REGULAR && kind !== KIND_FINAL) throw this.fail("bad_frame", `frame ${this.frame} has an unknown kind`);
    if (kind === KIND_REGULAR ? len !== this.header.frameBytes : len > this.header.frameBytes) throw this.fail("bad_frame", `frame ${this.frame} has a wrong length`);
    return len;
  }

  private open(): Buffer {
    const key = this.liveKey();
    const final = this.buf[0] === KIND_FINAL;
    const len = this.need - FRAME_PREFIX_BYTES - FRAME_TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", key.cipherKey(), key.nonce(this.frame));
    decipher.setAAD(this.aad(this.frame, final));
    decipher.setAuthTag(this.buf.subarray(FRAME_PREFIX_BYTES + len, this.need));
    const plain = decipher.update(this.buf.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + len));
    try {
      decipher.final();
    } catch {
      plain.fill(0);
      throw this.fail("tag_mismatch", `frame ${this.frame} does not verify (tampered, reordered, or from another stream or context)`);
    }
    this.frame++;
    this.have = 0;
    this.need = FRAME_PREFIX_BYTES;
    if (final) this.complete = true;
    return plain;
  }

  private fail(failure: StreamFailure, message: string): StreamFrameError {
    this.destroy();
    return new StreamFrameError(failure, message, this.frame);
  }
}
