// The broker's ciphertext record (format version 1):
//
//   offset  size  field
//   0       1     format version (0x01)
//   1       16    tenant id (UUID bytes)
//   17      16    DEK id (UUID bytes)
//   33      12    nonce (random, 96 bits)
//   45      n     AES-256-GCM ciphertext
//   45+n    16    GCM tag
//
// AAD = bytes 0..44 (the whole header) || canonical encryption context, so a record opens only
// under the tenant, DEK and context it was sealed for, and no header byte can be changed.
import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";
import { canonicalContext, type EncryptionContext } from "./canonical-context";
import type { DataKeyMaterial } from "./data-key-material";
import { InvalidCiphertextError } from "./errors";

export const ENVELOPE_VERSION = 1;
const HEADER_BYTES = 1 + 16 + 16 + 12;
const TAG_BYTES = 16;

export interface EnvelopeHeader {
  version: number;
  tenantId: string;
  dekId: string;
}

export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, "hex");
}

export function bytesToUuid(bytes: Buffer): string {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function sealEnvelope(
  dek: DataKeyMaterial,
  header: { tenantId: string; dekId: string },
  plaintext: Buffer,
  context?: EncryptionContext,
): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  head[0] = ENVELOPE_VERSION;
  uuidToBytes(header.tenantId).copy(head, 1);
  uuidToBytes(header.dekId).copy(head, 17);
  const nonce = head.subarray(33, 45);
  randomFillSync(nonce);
  const cipher = createCipheriv("aes-256-gcm", dek.cipherKey(), nonce);
  cipher.setAAD(Buffer.concat([head, canonicalContext(context)]));
  // GCM's final() outputs nothing: one concat of header, body and tag.
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

/** Reads the header without authenticating it; the result only says which DEK to fetch. */
export function readEnvelopeHeader(record: Buffer): EnvelopeHeader {
  if (record.length < HEADER_BYTES + TAG_BYTES) throw new InvalidCiphertextError("ciphertext is too short");
  if (record[0] !== ENVELOPE_VERSION) throw new InvalidCiphertextError("unknown ciphertext format version");
  return {
    version: record[0],
    tenantId: bytesToUuid(record.subarray(1, 17)),
    dekId: bytesToUuid(record.subarray(17, 33)),
  };
}

export function openEnvelope(dek: DataKeyMaterial, record: Buffer, context?: EncryptionContext): Buffer {
  readEnvelopeHeader(record);
  const head = record.subarray(0, HEADER_BYTES);
  const nonce = record.subarray(33, 45);
  const body = record.subarray(HEADER_BYTES, record.length - TAG_BYTES);
  const tag = record.subarray(record.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", dek.cipherKey(), nonce);
    decipher.setAAD(Buffer.concat([head, canonicalContext(context)]));
    decipher.setAuthTag(tag);
    // GCM's final() only verifies (it outputs nothing): no concat copy, and plaintext whose tag
    // does not verify is zeroed before it is dropped.
    const plaintext = decipher.update(body);
    try {
      decipher.final();
    } catch (e) {
      plaintext.fill(0);
      throw e;
    }
    return plaintext;
  } catch {
    throw new InvalidCiphertextError();
  }
}
