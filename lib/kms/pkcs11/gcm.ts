// The wrapped form of a DEK under a PKCS#11 AES key, and the CKM_AES_GCM mechanism for it.
//   byte 0       format version (1)
//   bytes 1-12   the random 96-bit IV (NIST SP 800-38D's recommended length)
//   bytes 13-    ciphertext || 128-bit tag, as C_Encrypt returns them
// The AAD is the canonical JSON of the wrap context (tenant, DEK id, ...), behind a domain label,
// so a wrapped DEK of one tenant or DEK cannot be unwrapped as another.
import { randomBytes } from "node:crypto";
import { KmsError } from "../types";
import type * as P11 from "pkcs11js";
import { pkcs11js } from "./module";

const VERSION = 1;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
const MAX_WRAPPED_BYTES = 1 + IV_BYTES + 64 + TAG_BYTES;

/** v240: CK_GCM_PARAMS with ulIvBits (PKCS#11 v2.40 and later); v220: the older layout without it. */
export type GcmLayout = "v240" | "v220";

export function gcmMechanism(layout: GcmLayout, iv: Buffer, aad: Buffer): P11.Mechanism {
  const parameter: P11.GcmParams = {
    type: layout === "v240" ? pkcs11js.CK_PARAMS_AES_GCM_v240 : pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    ivBits: IV_BYTES * 8,
    aad,
    tagBits: TAG_BYTES * 8,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

export function wrapAad(context: Record<string, string>): Buffer {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(context).sort()) {
    const v = context[k];
    if (typeof v !== "string") throw new KmsError("invalid", "pkcs11", `context value for "${k}" must be a string`);
    sorted[k] = v;
  }
  return Buffer.from(`cmek-broker/pkcs11/aes-gcm/v1\n${JSON.stringify(sorted)}`, "utf8");
}

export function newIv(): Buffer {
  return randomBytes(IV_BYTES);
}

export function packWrapped(iv: Buffer, sealed: Buffer): Buffer {
  return Buffer.concat([Buffer.from([VERSION]), iv, sealed]);
}

export function unpackWrapped(wrapped: Buffer): { iv: Buffer; sealed: Buffer } {
  if (!Buffer.isBuffer(wrapped) || wrapped.length < 1 + IV_BYTES + TAG_BYTES + 1 || wrapped.length > MAX_WRAPPED_BYTES) {
    throw new KmsError("invalid", "pkcs11", "wrapped DEK has the wrong length for a PKCS#11 AES-GCM wrap", { providerCode: "wrapped_format" });
  }
  if (wrapped[0] !== VERSION) throw new KmsError("invalid", "pkcs11", `wrapped DEK has unknown format version ${wrapped[0]}`, { providerCode: "wrapped_format" });
  return { iv: wrapped.subarray(1, 1 + IV_BYTES), sealed: wrapped.subarray(1 + IV_BYTES) };
}
