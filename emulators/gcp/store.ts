// In-memory Cloud KMS resource model (key rings, symmetric crypto keys, versions, IAM
// policies) with optional JSON persistence. No gRPC here: service.ts and ops-*.ts map requests onto it.
import { randomBytes } from "node:crypto";
import { StateFile } from "../control";

export type VersionState = "ENABLED" | "DISABLED" | "DESTROY_SCHEDULED" | "DESTROYED";

export interface VersionRec {
  id: number;
  state: VersionState;
  /** AES-256 key material; wiped once the version is DESTROYED, as in the real service. */
  material: Buffer | null;
  createTimeMs: number;
  destroyTimeMs?: number;
  destroyEventTimeMs?: number;
}

export interface CryptoKeyRec {
  name: string;
  createTimeMs: number;
  primaryId: number | null;
  nextVersionId: number;
  destroyScheduledDurationMs: number;
  labels: Record<string, string>;
  versions: Map<number, VersionRec>;
}

export interface KeyRingRec {
  name: string;
  createTimeMs: number;
}

export interface Binding {
  role: string;
  members: string[];
}

export interface PolicyRec {
  bindings: Binding[];
  etag: Buffer;
}

export interface PersistedPrincipal {
  token: string;
  member: string;
  ownerOfProjects?: string[];
}

/** Real default for `destroyScheduledDuration` on new keys. */
export const DEFAULT_DESTROY_SCHEDULED_MS = 30 * 24 * 3600 * 1000;

export class KmsStore {
  keyRings = new Map<string, KeyRingRec>();
  cryptoKeys = new Map<string, CryptoKeyRec>();
  policies = new Map<string, PolicyRec>();
  extraPrincipals: PersistedPrincipal[] = [];

  private readonly file: StateFile<unknown>;

  constructor(stateFile?: string) {
    this.file = new StateFile(stateFile, () => this.snapshot());
    const raw = this.file.load();
    if (raw !== undefined) this.restore(raw as Parameters<KmsStore["restore"]>[0], stateFile!);
  }

  newVersion(key: CryptoKeyRec, now = Date.now()): VersionRec {
    const v: VersionRec = { id: key.nextVersionId++, state: "ENABLED", material: randomBytes(32), createTimeMs: now };
    key.versions.set(v.id, v);
    return v;
  }

  /**
   * Scheduled destruction is evaluated lazily on access instead of with timers, so a restarted
   * emulator (stateFile) and a long-idle one both end up in the state the real service would show.
   */
  refresh(key: CryptoKeyRec, now = Date.now()): void {
    let changed = false;
    for (const v of key.versions.values()) {
      if (v.state === "DESTROY_SCHEDULED" && v.destroyTimeMs !== undefined && v.destroyTimeMs <= now) {
        v.state = "DESTROYED";
        v.material = null;
        v.destroyEventTimeMs = v.destroyTimeMs;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  policy(resource: string): PolicyRec {
    return this.policies.get(resource) ?? { bindings: [], etag: Buffer.from([0x00, 0x20, 0x01]) };
  }

  save(): void {
    this.file.changed();
  }

  private snapshot() {
    return {
      format: 1,
      keyRings: [...this.keyRings.values()],
      cryptoKeys: [...this.cryptoKeys.values()].map((k) => ({
        ...k,
        versions: [...k.versions.values()].map((v) => ({ ...v, material: v.material?.toString("base64") ?? null })),
      })),
      policies: Object.fromEntries(
        [...this.policies.entries()].map(([r, p]) => [r, { bindings: p.bindings, etag: p.etag.toString("base64") }]),
      ),
      principals: this.extraPrincipals,
    };
  }

  private restore(
    raw: {
      format?: number;
      keyRings?: KeyRingRec[];
      cryptoKeys?: Array<Omit<CryptoKeyRec, "versions"> & { versions: Array<Omit<VersionRec, "material"> & { material: string | null }> }>;
      policies?: Record<string, { bindings: Binding[]; etag: string }>;
      principals?: PersistedPrincipal[];
    },
    file: string,
  ): void {
    if (raw.format !== 1) throw new Error(`unsupported GCP emulator state file format in ${file}`);
    for (const r of raw.keyRings ?? []) this.keyRings.set(r.name, r);
    for (const k of raw.cryptoKeys ?? []) {
      const versions = new Map<number, VersionRec>();
      for (const v of k.versions) versions.set(v.id, { ...v, material: v.material ? Buffer.from(v.material, "base64") : null });
      this.cryptoKeys.set(k.name, { ...k, versions });
    }
    for (const [r, p] of Object.entries(raw.policies ?? {})) this.policies.set(r, { bindings: p.bindings, etag: Buffer.from(p.etag, "base64") });
    this.extraPrincipals = raw.principals ?? [];
  }
}
