// TOTP seeds at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the console's session
// secret (NEXTAUTH_SECRET, or the generated one in DATA_DIR), bound to the factor's id as AAD so a
// sealed seed copied to another row does not open. A database dump alone does not reveal seeds.
// Rotating the session secret makes existing TOTP enrolments unreadable: users enrol again.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { BrokerConfig } from "../../config/env";
import { ensureNextAuthSecret } from "../bootstrap";

function keyOf(config: BrokerConfig): Buffer {
  return Buffer.from(hkdfSync("sha256", ensureNextAuthSecret(config), "cmek-broker", "totp-seed-v1", 32));
}

export function sealSeed(config: BrokerConfig, factorId: string, seed: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(config), iv).setAAD(Buffer.from(factorId));
  const body = Buffer.concat([cipher.update(seed), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

export function openSeed(config: BrokerConfig, factorId: string, sealed: string): Buffer | null {
  if (!sealed.startsWith("v1.")) return null;
  const raw = Buffer.from(sealed.slice(3), "base64url");
  if (raw.length < 29) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyOf(config), raw.subarray(0, 12)).setAAD(Buffer.from(factorId));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
  } catch {
    // Wrong key (the session secret was rotated) or a tampered row: the factor cannot verify.
    return null;
  }
}
