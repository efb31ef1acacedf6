// Message shapes the emulator answers with (CryptoKey, CryptoKeyVersion, timestamps, Int64Value),
// checksum checks, and the ciphertext format.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { crc32c, int64ValueToNumber } from "../../lib/kms/crc32c";
import { invalid, DECRYPT_FAILED } from "./errors";
import type { CryptoKeyRec, VersionRec } from "./store";

export interface Timestamp {
  seconds: string;
  nanos: number;
}
export const ts = (ms: number): Timestamp => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
export const duration = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
export function durationToMs(d: unknown): number | null {
  if (!d || typeof d !== "object") return null;
  const { seconds, nanos } = d as { seconds?: string | number; nanos?: number };
  return Number(seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1_000_000);
}

export const versionName = (key: CryptoKeyRec, v: VersionRec) => `${key.name}/cryptoKeyVersions/${v.id}`;

export function versionProto(key: CryptoKeyRec, v: VersionRec) {
  return {
    name: versionName(key, v),
    state: v.state,
    protectionLevel: "SOFTWARE",
    algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION",
    createTime: ts(v.createTimeMs),
    generateTime: ts(v.createTimeMs),
    destroyTime: v.destroyTimeMs !== undefined ? ts(v.destroyTimeMs) : null,
    destroyEventTime: v.destroyEventTimeMs !== undefined ? ts(v.destroyEventTimeMs) : null,
  };
}

export function cryptoKeyProto(key: CryptoKeyRec) {
  const primary = key.primaryId !== null ? key.versions.get(key.primaryId) : undefined;
  return {
    name: key.name,
    primary: primary ? versionProto(key, primary) : null,
    purpose: "ENCRYPT_DECRYPT",
    createTime: ts(key.createTimeMs),
    versionTemplate: { protectionLevel: "SOFTWARE", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" },
    labels: key.labels,
    destroyScheduledDuration: duration(key.destroyScheduledDurationMs),
  };
}

export function bytesOf(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return Buffer.alloc(0);
}

/** Verifies an optional client-supplied checksum; returns whether one was supplied (and matched). */
export function checkCrc(data: Buffer, supplied: unknown, field: string, dataField: string): boolean {
  const n = int64ValueToNumber(supplied);
  if (n === null) return false;
  if (n !== crc32c(data)) throw invalid(`The checksum in field ${field} did not match the data in field ${dataField}.`);
  return true;
}

export const int64Value = (n: number) => ({ value: String(n) });

// Ciphertext layout: 0x01 | version id (uint32 BE) | 12-byte IV | AES-256-GCM ciphertext | 16-byte tag.
// Real KMS ciphertexts are opaque too and also carry the version, which is why Decrypt takes only the key name.
export const CT_FORMAT = 0x01;
export const CT_OVERHEAD = 1 + 4 + 12 + 16;

export function seal(v: VersionRec, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", v.material!, iv);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  const head = Buffer.alloc(5);
  head[0] = CT_FORMAT;
  head.writeUInt32BE(v.id, 1);
  return Buffer.concat([head, iv, body, c.getAuthTag()]);
}

export function open(material: Buffer, ciphertext: Buffer, aad: Buffer): Buffer {
  const iv = ciphertext.subarray(5, 17);
  const tag = ciphertext.subarray(ciphertext.length - 16);
  const d = createDecipheriv("aes-256-gcm", material, iv);
  d.setAAD(aad);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(ciphertext.subarray(17, ciphertext.length - 16)), d.final()]);
  } catch {
    throw invalid(DECRYPT_FAILED);
  }
}

