// The broker's ciphertext record. Format version 1 (the `default` data class, and every record
// made before data classes existed):
//
//   offset  size  field
//   0       1     format version (0x01)
//   1       16    tenant id (UUID bytes)
//   17      16    DEK id (UUID bytes)
//   33      12    nonce (random, 96 bits)
//   45      n     AES-256-GCM ciphertext
//   45+n    16    GCM tag
//
// Format version 2 (every other data class, issue 12) adds the class after the DEK id:
//
//   0       1     format byte (0x03: 0x02 is the first byte of a stream, lib/crypto/stream-frames.ts)
//   1       16    tenant id
//   17      16    DEK id
//   33      16    data class id (data_class.id)
//   49      12    nonce
//   61      n     ciphertext
//   61+n    16    GCM tag
//
// AAD = the whole header || canonical encryption context, so a record opens only under the
// tenant, DEK, class and context it was sealed for, and no header byte can be changed (the class
// id included; the broker also checks it against the DEK's own class before opening).
import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";
import { canonicalContext, type EncryptionContext } from "./canonical-context";
import type { DataKeyMaterial } from "./data-key-material";
import { InvalidCiphertextError } from "./errors";

export const ENVELOPE_VERSION = 1;
/** The first byte of a format 2 record (a record of a data class other than `default`). */
export const ENVELOPE_VERSION_CLASSED = 3;
const V1_HEADER_BYTES = 1 + 16 + 16 + 12;
const V2_HEADER_BYTES = 1 + 16 + 16 + 16 + 12;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;

export interface EnvelopeHeader {
  version: number;
  tenantId: string;
  dekId: string;
  /** The data class the record names (format 2); null for format 1, the `default` class. */
  classId: string | null;
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

/** Seals `plaintext`; `classId` (a class other than `default`) selects format 2, which names it. */
export function sealEnvelope(
  dek: DataKeyMaterial,
  header: { tenantId: string; dekId: string; classId?: string | null },
  plaintext: Buffer,
  context?: EncryptionContext,
): Buffer {
  const classed = header.classId !== undefined && header.classId !== null;
  const headerBytes = classed ? V2_HEADER_BYTES : V1_HEADER_BYTES;
  const head = Buffer.alloc(headerBytes);
  head[0] = classed ? ENVELOPE_VERSION_CLASSED : ENVELOPE_VERSION;
  uuidToBytes(header.tenantId).copy(head, 1);
  uuidToBytes(header.dekId).copy(head, 17);
  if (classed) uuidToBytes(header.classId!).copy(head, 33);
  const nonce = head.subarray(headerBytes - NONCE_BYTES, headerBytes);
  randomFillSync(nonce);
  const cipher = createCipheriv("aes-256-gcm", dek.cipherKey(), nonce);
  cipher.setAAD(Buffer.concat([head, canonicalContext(context)]));
  // GCM's final() outputs nothing: one concat of header, body and tag.
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

function headerBytesOf(record: Buffer): number {
  const version = record[0];
  if (version === ENVELOPE_VERSION) return V1_HEADER_BYTES;
  if (version === ENVELOPE_VERSION_CLASSED) return V2_HEADER_BYTES;
  if (version === 0x02 || version === 0x04) throw new InvalidCiphertextError("this is a stream, not a single ciphertext record; use /decrypt/stream");
  throw new InvalidCiphertextError("unknown ciphertext format version");
}

/** Reads the header without authenticating it; the result only says which DEK (and class) to fetch. */
/** The header's size, once the record is known to be long enough to hold it and a tag. */
function checkedHeaderBytes(record: Buffer): number {
  if (record.length === 0) throw new InvalidCiphertextError("ciphertext is too short");
  const headerBytes = headerBytesOf(record);
  if (record.length < headerBytes + TAG_BYTES) throw new InvalidCiphertextError("ciphertext is too short");
  return headerBytes;
}

export function readEnvelopeHeader(record: Buffer): EnvelopeHeader {
  const headerBytes = checkedHeaderBytes(record);
  return {
    version: record[0]!,
    tenantId: bytesToUuid(record.subarray(1, 17)),
    dekId: bytesToUuid(record.subarray(17, 33)),
    classId: headerBytes === V2_HEADER_BYTES ? bytesToUuid(record.subarray(33, 49)) : null,
  };
}

export function openEnvelope(dek: DataKeyMaterial, record: Buffer, context?: EncryptionContext): Buffer {
  // The same checks as readEnvelopeHeader, without the id strings the caller has already read.
  const headerBytes = checkedHeaderBytes(record);
  const head = record.subarray(0, headerBytes);
  const nonce = record.subarray(headerBytes - NONCE_BYTES, headerBytes);
  const body = record.subarray(headerBytes, record.length - TAG_BYTES);
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
