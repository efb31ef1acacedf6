// The broker's Ed25519 checkpoint-signing key. Created once per database (under an advisory
// lock so instances starting together agree on one key) and kept in broker_signing_key.
// Only public keys ever leave this module.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import type { Database, SqlExecutor } from "../db/database";
import { AUDIT_LOCK_NAMESPACE } from "./chain";

export interface BrokerPublicKey {
  keyId: string;
  publicKeyPem: string;
}

export interface BrokerSigner extends BrokerPublicKey {
  /** Base64 Ed25519 signature of the UTF-8 message. */
  sign(message: string): string;
}

// Distinct from every tenant's int4 key only by convention; a collision would merely serialise.
const SIGNING_KEY_LOCK = -1;

/** First 16 hex of sha256 over the SubjectPublicKeyInfo DER. */
export function keyIdOf(publicKey: string | KeyObject): string {
  const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
  return createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

export function verifySignature(publicKey: string | KeyObject, message: string, signatureB64: string): boolean {
  try {
    const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
    return verify(null, Buffer.from(message, "utf8"), key, Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}

const signers = new WeakMap<Database, Promise<BrokerSigner>>();

/** The signer for this database, creating the key on first use. */
export function getBrokerSigner(db: Database): Promise<BrokerSigner> {
  let p = signers.get(db);
  if (!p) {
    p = db.transaction(loadOrCreate);
    signers.set(db, p);
    p.catch(() => signers.delete(db));
  }
  return p;
}

export async function getPublicKey(db: Database): Promise<BrokerPublicKey> {
  const s = await getBrokerSigner(db);
  return { keyId: s.keyId, publicKeyPem: s.publicKeyPem };
}

/** Every key that ever signed checkpoints here (older ones stay valid for old checkpoints). */
export async function listPublicKeys(db: SqlExecutor): Promise<BrokerPublicKey[]> {
  const rows = await db.query<{ id: string; public_key: string }>(`SELECT id, public_key FROM broker_signing_key ORDER BY created_at, id`);
  return rows.map((r) => ({ keyId: r.id, publicKeyPem: r.public_key }));
}

async function loadOrCreate(tx: SqlExecutor): Promise<BrokerSigner> {
  await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, ${SIGNING_KEY_LOCK})`);
  const rows = await tx.query<{ id: string; public_key: string; private_key: string }>(
    `SELECT id, public_key, private_key FROM broker_signing_key ORDER BY created_at DESC, id LIMIT 1`,
  );
  let row = rows[0];
  if (!row) {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    row = {
      id: keyIdOf(publicKey),
      public_key: publicKey.export({ type: "spki", format: "pem" }).toString(),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
    await tx.query(`INSERT INTO broker_signing_key (id, public_key, private_key) VALUES ($1, $2, $3)`, [row.id, row.public_key, row.private_key]);
  }
  const priv = createPrivateKey(row.private_key);
  const keyId = row.id;
  const publicKeyPem = row.public_key;
  return {
    keyId,
    publicKeyPem,
    sign: (message) => sign(null, Buffer.from(message, "utf8"), priv).toString("base64"),
  };
}
