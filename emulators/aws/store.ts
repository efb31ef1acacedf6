// In-memory state of the AWS KMS emulator: keys, aliases, grants, key policies and principals,
// the ciphertext blob format, key-policy evaluation and optional JSON persistence.

import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export interface AwsPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  arn: string;
}

export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

export interface KeyRecord {
  keyId: string;
  accountId: string;
  region: string;
  arn: string;
  description: string;
  material: Buffer;
  state: KeyState;
  creationDate: number;
  deletionDate?: number;
  pendingWindowInDays?: number;
  policy: string;
}

export interface GrantConstraints {
  EncryptionContextEquals?: Record<string, string>;
  EncryptionContextSubset?: Record<string, string>;
}

export interface GrantRecord {
  grantId: string;
  grantToken: string;
  keyId: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  issuingAccount: string;
  operations: string[];
  constraints?: GrantConstraints;
  creationDate: number;
}

export const keyArn = (region: string, account: string, keyId: string) => `arn:aws:kms:${region}:${account}:key/${keyId}`;
export const aliasArn = (region: string, account: string, name: string) => `arn:aws:kms:${region}:${account}:${name}`;

export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Id: "key-default-1",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Ciphertext blob, version 1:
//   [0]      0x01 version
//   [1..16]  key id (UUID, 16 raw bytes)
//   [17..28] AES-GCM IV (12 bytes)
//   [29..44] AES-GCM tag (16 bytes)
//   [45..]   ciphertext
// AAD = version byte + key id bytes + canonical encryption context, so the header cannot be
// swapped and the context must match exactly (order-insensitive, as in AWS).
// ---------------------------------------------------------------------------------------------
const BLOB_VERSION = 0x01;
const HEADER_LEN = 1 + 16 + 12 + 16;

const uuidToBytes = (id: string) => Buffer.from(id.replace(/-/g, ""), "hex");
function bytesToUuid(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function canonicalContext(ctx: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(ctx ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

function aad(keyIdBytes: Buffer, ctx: Record<string, string> | undefined): Buffer {
  return Buffer.concat([Buffer.from([BLOB_VERSION]), keyIdBytes, canonicalContext(ctx)]);
}

export function sealBlob(key: KeyRecord, plaintext: Buffer, ctx: Record<string, string> | undefined): Buffer {
  const idBytes = uuidToBytes(key.keyId);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.material, iv);
  cipher.setAAD(aad(idBytes, ctx));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([BLOB_VERSION]), idBytes, iv, cipher.getAuthTag(), ct]);
}

/** Returns the key id embedded in the blob, or null when the blob is not ours. */
export function blobKeyId(blob: Buffer): string | null {
  if (blob.length < HEADER_LEN + 1 || blob[0] !== BLOB_VERSION) return null;
  return bytesToUuid(blob.subarray(1, 17));
}

/** Returns null on any authentication failure (tamper, wrong key, wrong context). */
export function openBlob(key: KeyRecord, blob: Buffer, ctx: Record<string, string> | undefined): Buffer | null {
  if (blobKeyId(blob) !== key.keyId) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.material, blob.subarray(17, 29));
    decipher.setAAD(aad(blob.subarray(1, 17), ctx));
    decipher.setAuthTag(blob.subarray(29, 45));
    return Buffer.concat([decipher.update(blob.subarray(HEADER_LEN)), decipher.final()]);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Key policy: the subset the emulator understands. Anything else is refused at PutKeyPolicy /
// CreateKey time with MalformedPolicyDocumentException, so an unsupported construct can never be
// silently ignored (which would make a Deny fail open).
// ---------------------------------------------------------------------------------------------
interface PolicyStatement {
  effect: "Allow" | "Deny";
  principals: string[]; // ARNs, account ids or "*"
  actions: string[];
  contextEquals: Array<[string, string[]]>;
}

export class PolicyError extends Error {}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

export function parseKeyPolicy(text: string): PolicyStatement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError("Policy is not valid JSON.");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new PolicyError("Policy must be a JSON object.");
  const statements = (doc as Record<string, unknown>).Statement;
  if (statements === undefined) throw new PolicyError("Policy has no Statement.");
  return asList(statements).map((raw, i) => {
    if (!raw || typeof raw !== "object") throw new PolicyError(`Statement ${i} is not an object.`);
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!["Sid", "Effect", "Principal", "Action", "Resource", "Condition"].includes(k)) {
        throw new PolicyError(`Statement ${i}: unsupported element '${k}'.`);
      }
    }
    if (s.Effect !== "Allow" && s.Effect !== "Deny") throw new PolicyError(`Statement ${i}: Effect must be Allow or Deny.`);
    let principals: string[];
    if (s.Principal === "*") principals = ["*"];
    else if (s.Principal && typeof s.Principal === "object" && !Array.isArray(s.Principal)) {
      const p = s.Principal as Record<string, unknown>;
      if (Object.keys(p).some((k) => k !== "AWS")) throw new PolicyError(`Statement ${i}: only the AWS principal type is supported.`);
      principals = asList(p.AWS).map((x) => {
        if (typeof x !== "string" || !x) throw new PolicyError(`Statement ${i}: Principal.AWS must be ARN strings.`);
        return x;
      });
    } else throw new PolicyError(`Statement ${i}: Principal is required.`);
    const actions = asList(s.Action).map((a) => {
      if (typeof a !== "string" || !/^(kms:[A-Za-z*]+|\*)$/.test(a)) throw new PolicyError(`Statement ${i}: invalid Action.`);
      return a;
    });
    const contextEquals: Array<[string, string[]]> = [];
    if (s.Condition !== undefined) {
      if (!s.Condition || typeof s.Condition !== "object") throw new PolicyError(`Statement ${i}: invalid Condition.`);
      for (const [op, body] of Object.entries(s.Condition as Record<string, unknown>)) {
        if (op !== "StringEquals") throw new PolicyError(`Statement ${i}: unsupported condition operator '${op}'.`);
        if (!body || typeof body !== "object") throw new PolicyError(`Statement ${i}: invalid StringEquals.`);
        for (const [key, val] of Object.entries(body as Record<string, unknown>)) {
          if (!/^kms:EncryptionContext:.+/.test(key)) throw new PolicyError(`Statement ${i}: unsupported condition key '${key}'.`);
          const values = asList(val);
          if (values.some((v) => typeof v !== "string")) throw new PolicyError(`Statement ${i}: condition values must be strings.`);
          contextEquals.push([key.slice("kms:EncryptionContext:".length), values as string[]]);
        }
      }
    }
    return { effect: s.Effect, principals, actions, contextEquals };
  });
}

function principalMatches(pattern: string, caller: AwsPrincipal): boolean {
  if (pattern === "*") return true;
  if (pattern === caller.arn) return true;
  // The account root (or a bare account id) stands for every principal of that account.
  return pattern === caller.accountId || pattern === `arn:aws:iam::${caller.accountId}:root`;
}

function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  return re.test(action);
}

export type PolicyDecision = "allow" | "deny" | "none";

export function evaluatePolicy(
  statements: PolicyStatement[],
  caller: AwsPrincipal,
  action: string,
  ctx: Record<string, string> | undefined,
): PolicyDecision {
  let allowed = false;
  for (const st of statements) {
    if (!st.principals.some((p) => principalMatches(p, caller))) continue;
    if (!st.actions.some((a) => actionMatches(a, action))) continue;
    // Simplification: context key and value are both matched exactly (case-sensitive).
    const condOk = st.contextEquals.every(([k, values]) => ctx !== undefined && k in ctx && values.includes(ctx[k]!));
    if (!condOk) continue;
    if (st.effect === "Deny") return "deny";
    allowed = true;
  }
  return allowed ? "allow" : "none";
}

export function grantAllows(g: GrantRecord, caller: AwsPrincipal, op: string, ctx: Record<string, string> | undefined): boolean {
  if (!principalMatches(g.granteePrincipal, caller)) return false;
  if (!g.operations.includes(op)) return false;
  const c = g.constraints;
  if (c?.EncryptionContextEquals) {
    const want = canonicalContext(c.EncryptionContextEquals);
    if (!want.equals(canonicalContext(ctx))) return false;
  }
  if (c?.EncryptionContextSubset) {
    for (const [k, v] of Object.entries(c.EncryptionContextSubset)) if (ctx?.[k] !== v) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Store with optional JSON persistence (debounced, atomic rename).
// ---------------------------------------------------------------------------------------------
interface PersistedState {
  version: 1;
  keys: Array<Omit<KeyRecord, "material"> & { material: string }>;
  grants: GrantRecord[];
  aliases: Array<{ accountId: string; name: string; keyId: string }>;
  principals: AwsPrincipal[];
}

export class KmsStore {
  readonly keys = new Map<string, KeyRecord>();
  readonly grants = new Map<string, GrantRecord>();
  /** `${accountId} ${alias/name}` → key id */
  readonly aliases = new Map<string, string>();
  readonly principalsByAkid = new Map<string, AwsPrincipal>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly region: string,
    private readonly stateFile?: string,
  ) {
    if (stateFile && existsSync(stateFile)) this.load(stateFile);
  }

  addPrincipal(p: AwsPrincipal): void {
    this.principalsByAkid.set(p.accessKeyId, { ...p });
    this.changed();
  }

  createKey(owner: string, description: string, policy?: string): KeyRecord {
    const keyId = randomUUID();
    const key: KeyRecord = {
      keyId,
      accountId: owner,
      region: this.region,
      arn: keyArn(this.region, owner, keyId),
      description,
      material: randomBytes(32),
      state: "Enabled",
      creationDate: Date.now() / 1000,
      policy: policy ?? defaultKeyPolicy(owner),
    };
    this.keys.set(keyId, key);
    this.changed();
    return key;
  }

  grantsFor(keyId: string): GrantRecord[] {
    return [...this.grants.values()].filter((g) => g.keyId === keyId);
  }

  newGrantId(): { grantId: string; grantToken: string } {
    return { grantId: randomBytes(32).toString("hex"), grantToken: randomBytes(48).toString("base64url") };
  }

  changed(): void {
    if (!this.stateFile || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, 50);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.stateFile) return;
    const state: PersistedState = {
      version: 1,
      keys: [...this.keys.values()].map((k) => ({ ...k, material: k.material.toString("base64") })),
      grants: [...this.grants.values()],
      aliases: [...this.aliases.entries()].map(([k, keyId]) => {
        const [accountId, name] = k.split(" ") as [string, string];
        return { accountId, name, keyId };
      }),
      principals: [...this.principalsByAkid.values()],
    };
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  private load(file: string): void {
    const state = JSON.parse(readFileSync(file, "utf8")) as PersistedState;
    if (state.version !== 1) throw new Error(`${file}: unsupported state version ${String(state.version)}`);
    for (const k of state.keys) this.keys.set(k.keyId, { ...k, material: Buffer.from(k.material, "base64") });
    for (const g of state.grants) this.grants.set(g.grantId, g);
    for (const a of state.aliases) this.aliases.set(`${a.accountId} ${a.name}`, a.keyId);
    for (const p of state.principals) this.principalsByAkid.set(p.accessKeyId, p);
  }
}
