// The AWS emulator's ciphertext blob: AES-256-GCM under the key's material, with the key id and
// the material id embedded (so Decrypt needs no KeyId and finds rotated-out material) and the
// encryption context bound as AAD.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { currentMaterialId, type KeyRecord } from "./store";

// ---------------------------------------------------------------------------------------------
// Ciphertext blob, version 2 (version 1, without the material id, is still read: it was sealed
// under a key's first material):
//   [0]      0x02 version
//   [1..16]  key id (UUID, 16 raw bytes)
//   [17..48] key material id (32 raw bytes; KeyMaterialId is their hex)
//   then AES-GCM IV (12 bytes), tag (16 bytes), ciphertext
// AAD = the header before the IV + canonical encryption context, so the header cannot be
// swapped and the context must match exactly (order-insensitive, as in AWS).
// ---------------------------------------------------------------------------------------------
const V1 = 0x01;
const V2 = 0x02;
const headerLen = (version: number) => (version === V2 ? 1 + 16 + 32 : 1 + 16);

const uuidToBytes = (id: string) => Buffer.from(id.replace(/-/g, ""), "hex");
function bytesToUuid(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function canonicalContext(ctx: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(ctx ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

export function sealBlob(key: KeyRecord, plaintext: Buffer, ctx: Record<string, string> | undefined): Buffer {
  const header = Buffer.concat([Buffer.from([V2]), uuidToBytes(key.keyId), Buffer.from(currentMaterialId(key), "hex")]);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.material, iv);
  cipher.setAAD(Buffer.concat([header, canonicalContext(ctx)]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), ct]);
}

/** Returns the key id embedded in the blob, or null when the blob is not ours. */
export function blobKeyId(blob: Buffer): string | null {
  const version = blob[0];
  if ((version !== V1 && version !== V2) || blob.length < headerLen(version) + 12 + 16 + 1) return null;
  return bytesToUuid(blob.subarray(1, 17));
}

/** The KeyMaterialId the blob was sealed under; for a version-1 blob, the key's first material. */
export function blobMaterialId(key: KeyRecord, blob: Buffer): string {
  if (blob[0] === V2) return blob.subarray(17, 49).toString("hex");
  return key.pastMaterials?.[0]?.id ?? currentMaterialId(key);
}

function materialFor(key: KeyRecord, id: string): Buffer | undefined {
  if (id === currentMaterialId(key)) return key.material;
  return key.pastMaterials?.find((m) => m.id === id)?.material;
}

/** Returns null on any authentication failure (tamper, wrong key, wrong context, unknown material). */
export function openBlob(key: KeyRecord, blob: Buffer, ctx: Record<string, string> | undefined): Buffer | null {
  if (blobKeyId(blob) !== key.keyId) return null;
  const material = materialFor(key, blobMaterialId(key, blob));
  if (!material) return null;
  const h = headerLen(blob[0]!);
  try {
    const decipher = createDecipheriv("aes-256-gcm", material, blob.subarray(h, h + 12));
    decipher.setAAD(Buffer.concat([blob.subarray(0, h), canonicalContext(ctx)]));
    decipher.setAuthTag(blob.subarray(h + 12, h + 28));
    return Buffer.concat([decipher.update(blob.subarray(h + 28)), decipher.final()]);
  } catch {
    return null;
  }
}
