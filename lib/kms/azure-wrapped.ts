// The wrapped form of an Azure-wrapped DEK: [FORMAT][alg][n][n bytes: key version, ASCII hex]
// [Azure's wrapped bytes], and the key version Azure names in a response's kid.
import type { KeyWrapAlgorithm } from "@azure/keyvault-keys";
import { KmsError } from "./types";

const VERSION_RE = /^[0-9a-fA-F]{32}$/;

const invalid = (message: string, providerCode?: string) =>
  new KmsError("invalid", "azure", message, providerCode ? { providerCode } : {});

// Wrapped form: [FORMAT][alg][n][n bytes: key version, ASCII hex][Azure's wrapped bytes].
// Azure only unwraps with the key version that wrapped, and a versionless key id means
// "current version", which changes on rotation; so the version travels with the ciphertext.
const WRAPPED_FORMAT = 0x01;
const ALG_CODES: Record<number, KeyWrapAlgorithm> = { 1: "RSA-OAEP-256", 2: "A256KW" };
const ALG_IDS: Partial<Record<KeyWrapAlgorithm, number>> = { "RSA-OAEP-256": 1, A256KW: 2 };


export function encodeWrapped(alg: KeyWrapAlgorithm, version: string, wrapped: Buffer): Buffer {
  const algId = ALG_IDS[alg];
  if (!algId) throw new Error(`unsupported wrap algorithm ${alg}`);
  const v = Buffer.from(version, "ascii");
  return Buffer.concat([Buffer.from([WRAPPED_FORMAT, algId, v.length]), v, wrapped]);
}

export function decodeWrapped(buf: Buffer): { alg: KeyWrapAlgorithm; version: string | null; wrapped: Buffer } {
  if (!Buffer.isBuffer(buf) || buf.length < 4) throw invalid("wrapped key is too short to be an Azure-wrapped DEK");
  if (buf[0] !== WRAPPED_FORMAT) throw invalid(`wrapped key has unknown format byte ${buf[0]}`);
  const alg = ALG_CODES[buf[1]!];
  if (!alg) throw invalid(`wrapped key names unknown algorithm id ${buf[1]}`);
  const n = buf[2]!;
  if (n !== 0 && n !== 32) throw invalid(`wrapped key has a key-version length of ${n} (expected 0 or 32)`);
  if (buf.length < 3 + n + 1) throw invalid("wrapped key is truncated");
  const version = n === 0 ? null : buf.subarray(3, 3 + n).toString("ascii");
  if (version !== null && !VERSION_RE.test(version)) throw invalid("wrapped key carries a malformed key version");
  return { alg, version, wrapped: buf.subarray(3 + n) };
}

export function versionFromKid(kid: unknown): string | null {
  if (typeof kid !== "string") return null;
  const m = /\/keys\/[0-9a-zA-Z-]{1,127}\/([0-9a-fA-F]{32})$/.exec(kid);
  return m ? m[1]! : null;
}

