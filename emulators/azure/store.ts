// State of the Azure Key Vault emulator: keys (all versions, soft-delete state), the role
// assignments the emulator models per key, app registrations and issued tokens, with an
// optional JSON state file (tokens are not persisted: a restarted vault makes clients re-auth).
import { z } from "zod";
import { parseWith, StateFile } from "../control";
import type { KeyVersionRecord } from "./keys";

export interface AzurePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface KeyRecord {
  name: string;
  owner: string;
  /** Oldest first; the last one is the current version. */
  versions: KeyVersionRecord[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

export interface TokenRecord {
  clientId: string;
  tenantId: string;
  expiresAt: number;
}

interface PersistedState {
  format: 1;
  keys: KeyRecord[];
  access: Record<string, string[]>;
  readers?: Record<string, string[]>;
  principals: AzurePrincipal[];
}

export const KEY_NAME_RE = /^[0-9a-zA-Z-]{1,127}$/;

const nonEmpty = (f: string) => z.string({ error: `${f} must be a non-empty string` }).min(1, `${f} must be a non-empty string`).max(256, `${f} must be a non-empty string`);
export const principalSchema = z.object({ tenantId: nonEmpty("tenantId"), clientId: nonEmpty("clientId"), clientSecret: nonEmpty("clientSecret") });
export const accessSchema = z.object({
  keyName: z.string({ error: "keyName is not a valid key name" }).regex(KEY_NAME_RE, "keyName is not a valid key name"),
  clientId: nonEmpty("clientId"),
  allowed: z.boolean({ error: "allowed must be a boolean" }),
  role: z.enum(["crypto_service_encryption_user", "reader"], { error: "role must be crypto_service_encryption_user or reader" }).default("crypto_service_encryption_user"),
});

export class VaultStore {
  readonly principals = new Map<string, AzurePrincipal>();
  readonly keys = new Map<string, KeyRecord>();
  /** keyName → clientIds holding the "Crypto Service Encryption User" role on that key. */
  readonly access = new Map<string, Set<string>>();
  /** keyName → clientIds holding "Key Vault Reader": key metadata and deleted keys (GetDeletedKey), no crypto. */
  readonly readers = new Map<string, Set<string>>();
  readonly tokens = new Map<string, TokenRecord>();
  private readonly file: StateFile<PersistedState>;

  constructor(builtIn: AzurePrincipal[], stateFile?: string) {
    for (const p of builtIn) this.principals.set(p.clientId, { ...p });
    this.file = new StateFile(stateFile, () => ({
      format: 1,
      keys: [...this.keys.values()],
      access: Object.fromEntries([...this.access].map(([k, v]) => [k, [...v]])),
      readers: Object.fromEntries([...this.readers].map(([k, v]) => [k, [...v]])),
      principals: [...this.principals.values()],
    }));
    const state = this.file.load();
    for (const k of state?.keys ?? []) this.keys.set(k.name, k);
    for (const [name, ids] of Object.entries(state?.access ?? {})) this.access.set(name, new Set(ids));
    for (const [name, ids] of Object.entries(state?.readers ?? {})) this.readers.set(name, new Set(ids));
    for (const p of state?.principals ?? []) this.principals.set(p.clientId, p);
  }

  persist(): void {
    this.file.changed();
  }

  addPrincipal(v: unknown): AzurePrincipal {
    const p = parseWith(principalSchema, v);
    this.principals.set(p.clientId, { tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret });
    this.persist();
    return p;
  }

  setAccess(keyName: unknown, clientId: unknown, allowed: unknown, role?: unknown): void {
    const a = parseWith(accessSchema, { keyName, clientId, allowed, role });
    const assignments = a.role === "reader" ? this.readers : this.access;
    let set = assignments.get(a.keyName);
    if (!set) assignments.set(a.keyName, (set = new Set()));
    if (a.allowed) set.add(a.clientId);
    else set.delete(a.clientId);
    this.persist();
  }
}
