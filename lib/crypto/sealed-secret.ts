// Seals a small secret at rest (the per-tenant KMIP client private keys): AES-256-GCM under a key
// derived by HKDF-SHA256 from the broker's sealing secret, with the owner bound as AAD so a sealed
// value copied to another tenant's row does not open. Layout: 0x01 | nonce (12) | tag (16) | sealed.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const FORMAT = 0x01;

export function sealingKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), Buffer.from(`cmek-broker ${purpose}`, "utf8"), 32));
}

export function sealSecret(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), nonce, c.getAuthTag(), body]);
}

/** Throws when the value was not sealed by this key for this owner. */
export function openSecret(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 29 || sealed[0] !== FORMAT) throw new Error("not a sealed secret");
  const d = createDecipheriv("aes-256-gcm", key, sealed.subarray(1, 13));
  d.setAAD(Buffer.from(aad, "utf8"));
  d.setAuthTag(sealed.subarray(13, 29));
  return Buffer.concat([d.update(sealed.subarray(29)), d.final()]);
}
