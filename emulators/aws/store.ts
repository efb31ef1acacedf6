// In-memory state of the AWS KMS emulator: keys (with tags), aliases, grants, key policies and
// principals, with optional JSON persistence. Blob format: ./blob; policy evaluation: ./policy.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { StateFile } from "../control";

export interface AwsPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  arn: string;
  /**
   * false: no IAM policy grants this principal KMS permissions, so keys of its own account are
   * usable only where a key policy names its ARN or a grant does (default: IAM allows KMS).
   */
  iamKmsAccess?: boolean;
}

export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

export interface KeyRecord {
  keyId: string;
  accountId: string;
  region: string;
  arn: string;
  description: string;
  /** The current key material (new encryptions use it). */
  material: Buffer;
  /** Id of the current material (64 hex, like AWS's KeyMaterialId); absent in state files from before rotation support. */
  materialId?: string;
  /** Earlier materials, kept for Decrypt as AWS keeps them (AWS_KMS-origin material is never deleted by rotation). */
  pastMaterials?: Array<{ id: string; material: Buffer }>;
  /** Rotations after the initial material, oldest first (ListKeyRotations). */
  rotations?: Array<{ id: string; date: number; type: "AUTOMATIC" | "ON_DEMAND" }>;
  /** Automatic rotation, when enabled (EnableKeyRotation). */
  autoRotation?: { periodDays: number; since: number };
  state: KeyState;
  creationDate: number;
  deletionDate?: number;
  pendingWindowInDays?: number;
  policy: string;
  /** Tags in insertion order (TagKey → TagValue), as TagResource / CreateKey Tags set them. */
  tags?: Record<string, string>;
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

/** The current material's id; keys from state files written before rotation support get a stable one derived from the material. */
export function currentMaterialId(key: KeyRecord): string {
  return (key.materialId ??= createHash("sha256").update(key.material).digest("hex"));
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

interface PersistedState {
  version: 1;
  keys: Array<Omit<KeyRecord, "material" | "pastMaterials"> & { material: string; pastMaterials?: Array<{ id: string; material: string }> }>;
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
  private readonly file: StateFile<PersistedState>;

  constructor(
    readonly region: string,
    stateFile?: string,
  ) {
    // Debounced: a burst of grant or tag changes is written once.
    this.file = new StateFile(stateFile, () => this.snapshot(), 50);
    const state = this.file.load();
    if (state) this.restore(state, stateFile!);
  }

  addPrincipal(p: AwsPrincipal): void {
    this.principalsByAkid.set(p.accessKeyId, { ...p });
    this.changed();
  }

  createKey(owner: string, description: string, policy?: string, tags?: Record<string, string>): KeyRecord {
    const keyId = randomUUID();
    const key: KeyRecord = {
      keyId,
      accountId: owner,
      region: this.region,
      arn: keyArn(this.region, owner, keyId),
      description,
      material: randomBytes(32),
      materialId: randomBytes(32).toString("hex"),
      state: "Enabled",
      creationDate: Date.now() / 1000,
      policy: policy ?? defaultKeyPolicy(owner),
      ...(tags && Object.keys(tags).length ? { tags: { ...tags } } : {}),
    };
    this.keys.set(keyId, key);
    this.changed();
    return key;
  }

  /** Makes fresh material current and keeps the old for Decrypt (RotateKeyOnDemand, automatic rotation). */
  rotate(key: KeyRecord, type: "AUTOMATIC" | "ON_DEMAND", now = Date.now() / 1000): void {
    key.pastMaterials = [...(key.pastMaterials ?? []), { id: currentMaterialId(key), material: key.material }];
    key.material = randomBytes(32);
    key.materialId = randomBytes(32).toString("hex");
    key.rotations = [...(key.rotations ?? []), { id: key.materialId, date: now, type }];
    this.changed();
  }

  grantsFor(keyId: string): GrantRecord[] {
    return [...this.grants.values()].filter((g) => g.keyId === keyId);
  }

  newGrantId(): { grantId: string; grantToken: string } {
    return { grantId: randomBytes(32).toString("hex"), grantToken: randomBytes(48).toString("base64url") };
  }

  changed(): void {
    this.file.changed();
  }

  flush(): void {
    this.file.flush();
  }

  private snapshot(): PersistedState {
    return {
      version: 1,
      keys: [...this.keys.values()].map(({ pastMaterials, ...k }) => ({
        ...k,
        material: k.material.toString("base64"),
        ...(pastMaterials ? { pastMaterials: pastMaterials.map((m) => ({ id: m.id, material: m.material.toString("base64") })) } : {}),
      })),
      grants: [...this.grants.values()],
      aliases: [...this.aliases.entries()].map(([k, keyId]) => {
        const [accountId, name] = k.split(" ") as [string, string];
        return { accountId, name, keyId };
      }),
      principals: [...this.principalsByAkid.values()],
    };
  }

  private restore(state: PersistedState, file: string): void {
    if (state.version !== 1) throw new Error(`${file}: unsupported state version ${String(state.version)}`);
    for (const { pastMaterials: past, ...k } of state.keys) {
      const pastMaterials = past?.map((m) => ({ id: m.id, material: Buffer.from(m.material, "base64") }));
      this.keys.set(k.keyId, { ...k, material: Buffer.from(k.material, "base64"), ...(pastMaterials ? { pastMaterials } : {}) });
    }
    for (const g of state.grants) this.grants.set(g.grantId, g);
    for (const a of state.aliases) this.aliases.set(`${a.accountId} ${a.name}`, a.keyId);
    for (const p of state.principals) this.principalsByAkid.set(p.accessKeyId, p);
  }
}
