import { randomFillSync } from "node:crypto";

export const DEK_BYTES = 32;

/**
 * An unwrapped DEK in memory. The bytes live in a buffer of their own (never Node's shared
 * pool), so `destroy()` can overwrite them; every code path that drops a DEK calls it.
 */
export class DataKeyMaterial {
  private bytes: Buffer | null;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  static generate(): DataKeyMaterial {
    const bytes = Buffer.alloc(DEK_BYTES);
    randomFillSync(bytes);
    return new DataKeyMaterial(bytes);
  }

  /** Copies `source` into a private buffer and zeroes `source`, which usually came from an SDK response. */
  static takeFrom(source: Uint8Array): DataKeyMaterial {
    if (source.length !== DEK_BYTES) throw new Error(`a data key must be ${DEK_BYTES} bytes, got ${source.length}`);
    const bytes = Buffer.alloc(DEK_BYTES);
    bytes.set(source);
    source.fill(0);
    return new DataKeyMaterial(bytes);
  }

  get destroyed(): boolean {
    return this.bytes === null;
  }

  /** The live key bytes; do not keep a reference past the current synchronous operation. */
  key(): Buffer {
    if (!this.bytes) throw new Error("data key was destroyed");
    return this.bytes;
  }

  /** A copy for wrapping; the caller zeroes it after use. */
  copy(): Buffer {
    return Buffer.from(this.key());
  }

  destroy(): void {
    if (this.bytes) {
      this.bytes.fill(0);
      this.bytes = null;
    }
  }

  /** For tests proving zeroization: the underlying buffer, still readable after destroy(). */
  static unsafeBufferOf(material: DataKeyMaterial): Buffer | null {
    return material.bytes;
  }
}
