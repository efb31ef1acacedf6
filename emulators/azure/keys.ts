// Key material and the wrap/unwrap algorithms the emulator serves. Only what a CMEK broker
// uses: RSA (RSA-OAEP-256, RSA-OAEP) and AES key wrap (A128KW/A192KW/A256KW, RFC 3394).

import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from "node:crypto";
import { promisify } from "node:util";

const generateKeyPairAsync = promisify(generateKeyPair);

export type EmulatedKty = "RSA" | "RSA-HSM" | "oct" | "oct-HSM";

export interface KeyAttributes {
  enabled: boolean;
  created: number;
  updated: number;
  exp?: number;
  nbf?: number;
}

export interface KeyVersionRecord {
  version: string;
  kty: EmulatedKty;
  keySize: number;
  keyOps: string[];
  attributes: KeyAttributes;
  tags?: Record<string, string>;
  /** PKCS#8 PEM for RSA; base64 for oct. Never leaves the emulator except in the state file. */
  privatePem?: string;
  secret?: string;
  n?: string;
  e?: string;
}

/** Thrown for a request the service would answer with 400 BadParameter. */
export class BadParameter extends Error {}

export const RSA_SIZES = [2048, 3072, 4096];
export const AES_SIZES = [128, 192, 256];
const AES_KW_IV = Buffer.from("A6A6A6A6A6A6A6A6", "hex");

export function newVersionId(): string {
  return randomBytes(16).toString("hex");
}

/** A new enabled version with the type, size, operations and tags of `from` (key rotation). */
export async function versionLike(from: KeyVersionRecord, nowSeconds: number): Promise<KeyVersionRecord> {
  const material = await generateMaterial(from.kty, from.keySize);
  return {
    version: newVersionId(),
    kty: from.kty,
    keySize: from.keySize,
    keyOps: [...from.keyOps],
    attributes: { enabled: true, created: nowSeconds, updated: nowSeconds },
    ...(from.tags ? { tags: { ...from.tags } } : {}),
    ...material,
  };
}

export function isRsa(kty: EmulatedKty): boolean {
  return kty === "RSA" || kty === "RSA-HSM";
}

export async function generateMaterial(
  kty: EmulatedKty,
  keySize: number,
): Promise<Pick<KeyVersionRecord, "privatePem" | "secret" | "n" | "e">> {
  if (isRsa(kty)) {
    const { privateKey, publicKey } = await generateKeyPairAsync("rsa", { modulusLength: keySize, publicExponent: 0x10001 });
    const jwk = publicKey.export({ format: "jwk" });
    return {
      privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      n: jwk.n,
      e: jwk.e,
    };
  }
  return { secret: randomBytes(keySize / 8).toString("base64") };
}

function aesKwCipher(alg: string, key: KeyVersionRecord): { name: string; secret: Buffer } {
  const bits = { A128KW: 128, A192KW: 192, A256KW: 256 }[alg];
  if (!bits) throw new BadParameter(`Algorithm '${alg}' is not supported for key type '${key.kty}'.`);
  const secret = Buffer.from(key.secret ?? "", "base64");
  if (secret.length * 8 !== bits) {
    throw new BadParameter(`Algorithm '${alg}' requires a ${bits}-bit key; this key is ${secret.length * 8}-bit.`);
  }
  return { name: `id-aes${bits}-wrap`, secret };
}

function rsaOaepHash(alg: string): "sha256" | "sha1" {
  if (alg === "RSA-OAEP-256") return "sha256";
  if (alg === "RSA-OAEP") return "sha1";
  // RSA1_5 is left out on purpose: Node refuses PKCS#1 v1.5 private decryption by default.
  throw new BadParameter(`Algorithm '${alg}' is not supported by the emulator for RSA keys.`);
}

export function wrap(key: KeyVersionRecord, alg: string, plaintext: Buffer): Buffer {
  if (isRsa(key.kty)) {
    const hash = rsaOaepHash(alg);
    const pub = createPublicKey({ key: { kty: "RSA", n: key.n!, e: key.e! }, format: "jwk" });
    const max = key.keySize / 8 - 2 * (hash === "sha256" ? 32 : 20) - 2;
    if (plaintext.length > max) throw new BadParameter(`Value is too long for ${alg} with a ${key.keySize}-bit key.`);
    return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
  }
  const { name, secret } = aesKwCipher(alg, key);
  if (plaintext.length < 16 || plaintext.length % 8 !== 0) {
    throw new BadParameter("Value length must be a multiple of 8 bytes and at least 16 bytes for AES key wrap.");
  }
  const c = createCipheriv(name, secret, AES_KW_IV);
  return Buffer.concat([c.update(plaintext), c.final()]);
}

export function unwrap(key: KeyVersionRecord, alg: string, ciphertext: Buffer): Buffer {
  if (isRsa(key.kty)) {
    const hash = rsaOaepHash(alg);
    if (ciphertext.length !== key.keySize / 8) throw new BadParameter("Error occurred while decoding OAEP padding.");
    try {
      return privateDecrypt(
        { key: createPrivateKey(key.privatePem!), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
        ciphertext,
      );
    } catch {
      throw new BadParameter("Error occurred while decoding OAEP padding.");
    }
  }
  const { name, secret } = aesKwCipher(alg, key);
  if (ciphertext.length < 24 || ciphertext.length % 8 !== 0) {
    throw new BadParameter("Error occurred while unwrapping the key: invalid wrapped key length.");
  }
  try {
    const d = createDecipheriv(name, secret, AES_KW_IV);
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch {
    // Wording made up: no public capture of the real Managed HSM text exists.
    throw new BadParameter("Error occurred while unwrapping the key: integrity check failed.");
  }
}

/** Strict base64url (padding tolerated), as the service rejects anything else with BadParameter. */
export function decodeBase64Url(value: unknown): Buffer {
  if (typeof value !== "string" || value.length === 0 || !/^[A-Za-z0-9_-]+={0,2}$/.test(value)) {
    throw new BadParameter("Content of 'value' is not base64url.\r\nProperty 'value' is required.\r\n");
  }
  return Buffer.from(value, "base64url");
}
