// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud KMS uses for
// end-to-end integrity of Encrypt/Decrypt payloads. The GCP client library passes the
// checksum fields through without checking them, so both the broker and the emulator
// compute them here.

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C of `data` as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    // Both indexes are in range by construction; `!` only silences noUncheckedIndexedAccess.
    crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Reads a protobuf Int64Value as gax/proto-loader hand it over (`{ value: "123" }`, a number,
 * a string or a Long-like object) and returns it as a number, or null when absent.
 * CRC32C values fit in 32 bits, so a JS number is exact.
 */
export function int64ValueToNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "object" && "value" in (v as Record<string, unknown>)) return int64ValueToNumber((v as { value: unknown }).value);
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") return v.trim() === "" ? null : Number(v);
  if (typeof v === "object" && typeof (v as { toString?: unknown }).toString === "function") {
    const n = Number(String(v));
    return Number.isFinite(n) ? n : null;
  }
  return null;
}
