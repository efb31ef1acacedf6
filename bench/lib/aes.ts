// The ceiling's and the Next.js route's crypto: AES-256-GCM with an in-memory key.
// Layout: nonce (12) | tag (16) | ciphertext. The broker's envelope adds a header and binds
// tenant, DEK and context as AAD; the cipher work per KiB is the same.
// The key becomes a KeyObject once, as the broker's DataKeyMaterial.cipherKey() does: on Node 24 a
// Buffer key costs createCipheriv about 14 µs more per call, and a ceiling paying that would flatter
// the broker's ratio.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";

const keyObjects = new WeakMap<Buffer, KeyObject>();
function keyObjectOf(key: Buffer): KeyObject {
  let k = keyObjects.get(key);
  if (!k) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return k;
}

export function seal(key: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyObjectOf(key), nonce);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), ct]);
}

export function open(key: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", keyObjectOf(key), sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}
