// The AWS emulator's ciphertext blob: AES-256-GCM under the key's material, with the key id
// embedded (so Decrypt needs no KeyId) and the encryption context bound as AAD.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyRecord } from "./store";

// ---------------------------------------------------------------------------------------------
// Ciphertext blob, version 1:
//   [0]      0x01 version
//   [1..16]  key id (UUID, 16 raw bytes)
//   [17..28] AES-GCM IV (12 bytes)
//   [29..44] AES-GCM tag (16 bytes)
//   [45..]   ciphertext
// AAD = version byte + key id bytes + canonical encryption context, so the header cannot be
// swapped and the context must match exactly (order-insensitive, as in AWS).
// ---------------------------------------------------------------------------------------------
const BLOB_VERSION = 0x01;
const HEADER_LEN = 1 + 16 + 12 + 16;

const uuidToBytes = (id: string) => Buffer.from(id.replace(/-/g, ""), "hex");
function bytesToUuid(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function canonicalContext(ctx: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(ctx ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

function aad(keyIdBytes: Buffer, ctx: Record<string, string> | undefined): Buffer {
  return Buffer.concat([Buffer.from([BLOB_VERSION]), keyIdBytes, canonicalContext(ctx)]);
}

export function sealBlob(key: KeyRecord, plaintext: Buffer, ctx: Record<string, string> | undefined): Buffer {
  const idBytes = uuidToBytes(key.keyId);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.material, iv);
  cipher.setAAD(aad(idBytes, ctx));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([BLOB_VERSION]), idBytes, iv, cipher.getAuthTag(), ct]);
}

/** Returns the key id embedded in the blob, or null when the blob is not ours. */
export function blobKeyId(blob: Buffer): string | null {
  if (blob.length < HEADER_LEN + 1 || blob[0] !== BLOB_VERSION) return null;
  return bytesToUuid(blob.subarray(1, 17));
}

/** Returns null on any authentication failure (tamper, wrong key, wrong context). */
export function openBlob(key: KeyRecord, blob: Buffer, ctx: Record<string, string> | undefined): Buffer | null {
  if (blobKeyId(blob) !== key.keyId) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.material, blob.subarray(17, 29));
    decipher.setAAD(aad(blob.subarray(1, 17), ctx));
    decipher.setAuthTag(blob.subarray(29, 45));
    return Buffer.concat([decipher.update(blob.subarray(HEADER_LEN)), decipher.final()]);
  } catch {
    return null;
  }
}

