// The Key Vault operations behind the wire: create (with tags), get, update (PATCH: enabled,
// exp/nbf, key_ops, tags), wrap/unwrap, soft delete, recover, purge; RBAC as the one role the
// emulator models ("Key Vault Crypto Service Encryption User" per key); and the route table that
// maps a request path onto them.
import { BadParameter, decodeBase64Url, generateMaterial, isRsa, newVersionId, AES_SIZES, RSA_SIZES, unwrap, versionLike, wrap, type KeyVersionRecord } from "./keys";
import { forbiddenByRbac, HttpError, keyNotFound } from "./errors";
import { KEY_NAME_RE, type KeyRecord, type VaultStore } from "./store";

const RECOVERABLE_DAYS = 90;
const MAX_TAGS = 15;

const nowS = () => Math.floor(Date.now() / 1000);

function optionalUnixSeconds(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadParameter(`Property '${field}' must be a Unix time in seconds.`);
  return Math.floor(v);
}

/** Key Vault tags: a flat map of strings (at most 15; names up to 512 and values up to 256 characters). */
function tagsOf(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new BadParameter("Property 'tags' must be an object of strings.");
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_TAGS) throw new BadParameter(`A key can have at most ${MAX_TAGS} tags.`);
  for (const [k, val] of entries) {
    if (typeof val !== "string" || k.length === 0 || k.length > 512 || val.length > 256) {
      throw new BadParameter("Tag names must be 1-512 characters and tag values strings of at most 256 characters.");
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export interface Route {
  op: string;
  keyName: string;
  run: (clientId: string, body: Record<string, unknown>) => unknown;
}

export function createVaultService(store: VaultStore, vaultTenantId: string) {
  let origin = "";

  // ---------- key bundles ----------

  const kidOf = (name: string, v: KeyVersionRecord) => `${origin}/keys/${name}/${v.version}`;

  function bundle(rec: KeyRecord, v: KeyVersionRecord): Record<string, unknown> {
    const key: Record<string, unknown> = { kid: kidOf(rec.name, v), kty: v.kty, key_ops: v.keyOps };
    if (isRsa(v.kty)) {
      key.n = v.n;
      key.e = v.e;
    }
    const a = v.attributes;
    const attributes: Record<string, unknown> = {
      enabled: a.enabled,
      created: a.created,
      updated: a.updated,
      recoveryLevel: "Recoverable+Purgeable",
      recoverableDays: RECOVERABLE_DAYS,
    };
    if (a.exp !== undefined) attributes.exp = a.exp;
    if (a.nbf !== undefined) attributes.nbf = a.nbf;
    const out: Record<string, unknown> = { key, attributes };
    if (v.tags) out.tags = v.tags;
    return out;
  }

  function deletedBundle(rec: KeyRecord): Record<string, unknown> {
    return {
      ...bundle(rec, current(rec)),
      recoveryId: `${origin}/deletedkeys/${rec.name}`,
      deletedDate: rec.deleted!.deletedDate,
      scheduledPurgeDate: rec.deleted!.scheduledPurgeDate,
    };
  }

  const current = (rec: KeyRecord) => rec.versions[rec.versions.length - 1]!;

  // ---------- authorization ----------

  type Permission = "get" | "wrapKey" | "unwrapKey" | "manage" | "readDeleted";
  const rbacAction: Record<Permission, string> = {
    get: "read",
    readDeleted: "read",
    wrapKey: "wrap/action",
    unwrapKey: "unwrap/action",
    manage: "write",
  };

  function authorize(rec: KeyRecord, clientId: string, perm: Permission): void {
    if (rec.owner === clientId) return;
    // The granted role is "Key Vault Crypto Service Encryption User": read, wrap, unwrap only.
    if (perm !== "manage" && perm !== "readDeleted" && store.access.get(rec.name)?.has(clientId)) return;
    // "Key Vault Reader" reads key metadata and deleted keys (Microsoft.KeyVault/vaults/*/read), no crypto.
    if ((perm === "get" || perm === "readDeleted") && store.readers.get(rec.name)?.has(clientId)) return;
    throw forbiddenByRbac(vaultTenantId, rbacAction[perm], clientId, rec.name, perm === "readDeleted" ? "deletedKeys" : "keys");
  }

  /** Live (not soft-deleted) key the caller may use; 403 is decided before 404 as RBAC is checked first. */
  function liveKey(name: string, clientId: string, perm: Permission): KeyRecord {
    const rec = store.keys.get(name);
    if (!rec) throw keyNotFound(name);
    authorize(rec, clientId, perm);
    if (rec.deleted) throw keyNotFound(name);
    return rec;
  }

  function versionOf(rec: KeyRecord, version: string): KeyVersionRecord {
    if (version === "") return current(rec);
    const v = rec.versions.find((x) => x.version === version);
    if (!v) throw keyNotFound(`${rec.name}/${version}`);
    return v;
  }

  // ---------- key operations ----------

  async function createKey(name: string, clientId: string, body: Record<string, unknown>): Promise<unknown> {
    if (!KEY_NAME_RE.test(name)) throw new BadParameter("The key name is invalid. Names may contain only 0-9, a-z, A-Z and '-', up to 127 characters.");
    const existing = store.keys.get(name);
    if (existing) {
      authorize(existing, clientId, "manage");
      if (existing.deleted) {
        throw new HttpError(
          409,
          "Conflict",
          `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.`,
        );
      }
    }
    const kty = body.kty;
    if (kty !== "RSA" && kty !== "RSA-HSM" && kty !== "oct" && kty !== "oct-HSM") {
      throw new BadParameter(`The key type '${String(kty)}' is not supported by the emulator (RSA, RSA-HSM, oct, oct-HSM).`);
    }
    const rsa = isRsa(kty);
    const keySize = body.key_size === undefined ? (rsa ? 2048 : 256) : body.key_size;
    if (typeof keySize !== "number" || !(rsa ? RSA_SIZES : AES_SIZES).includes(keySize)) {
      throw new BadParameter(`The key size ${String(keySize)} is not supported for key type '${kty}'.`);
    }
    const keyOps =
      body.key_ops === undefined
        ? rsa
          ? ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
          : ["encrypt", "decrypt", "wrapKey", "unwrapKey"]
        : body.key_ops;
    if (!Array.isArray(keyOps) || !keyOps.every((o) => typeof o === "string")) throw new BadParameter("Property 'key_ops' must be an array of strings.");
    const attrsIn = (body.attributes ?? {}) as Record<string, unknown>;
    const t = nowS();
    const version: KeyVersionRecord = {
      version: newVersionId(),
      kty,
      keySize,
      keyOps: keyOps as string[],
      attributes: {
        enabled: attrsIn.enabled === undefined ? true : attrsIn.enabled === true,
        created: t,
        updated: t,
        exp: optionalUnixSeconds(attrsIn.exp, "exp"),
        nbf: optionalUnixSeconds(attrsIn.nbf, "nbf"),
      },
      tags: tagsOf(body.tags),
      ...(await generateMaterial(kty, keySize)),
    };
    // Creating an existing name adds a new current version, as the service does.
    const rec: KeyRecord = existing ?? { name, owner: clientId, versions: [] };
    rec.versions.push(version);
    store.keys.set(name, rec);
    store.persist();
    return bundle(rec, version);
  }

  function updateKey(name: string, versionId: string, clientId: string, body: Record<string, unknown>): unknown {
    const rec = liveKey(name, clientId, "manage");
    const v = versionOf(rec, versionId);
    const a = body.attributes as Record<string, unknown> | undefined;
    if (a !== undefined && (typeof a !== "object" || a === null)) throw new BadParameter("Property 'attributes' must be an object.");
    if (a) {
      if (a.enabled !== undefined) {
        if (typeof a.enabled !== "boolean") throw new BadParameter("Property 'enabled' must be a boolean.");
        v.attributes.enabled = a.enabled;
      }
      if ("exp" in a) v.attributes.exp = optionalUnixSeconds(a.exp, "exp");
      if ("nbf" in a) v.attributes.nbf = optionalUnixSeconds(a.nbf, "nbf");
    }
    if (body.key_ops !== undefined) {
      if (!Array.isArray(body.key_ops) || !body.key_ops.every((o) => typeof o === "string")) throw new BadParameter("Property 'key_ops' must be an array of strings.");
      v.keyOps = body.key_ops as string[];
    }
    if (body.tags !== undefined) v.tags = tagsOf(body.tags);
    v.attributes.updated = nowS();
    store.persist();
    return bundle(rec, v);
  }

  /** POST /keys/{name}/rotate: a new version with the current one's type, size, operations and tags becomes current; older versions stay usable. */
  async function rotateKey(name: string, clientId: string): Promise<unknown> {
    const rec = liveKey(name, clientId, "manage");
    const v = await versionLike(current(rec), nowS());
    rec.versions.push(v);
    store.persist();
    return bundle(rec, v);
  }

  function cryptoOp(op: "wrapkey" | "unwrapkey", name: string, versionId: string, clientId: string, body: Record<string, unknown>): unknown {
    const opName = op === "wrapkey" ? "wrapKey" : "unwrapKey";
    const rec = liveKey(name, clientId, opName);
    const v = versionOf(rec, versionId);
    // Real Azure is reported to keep allowing wrapKey/encrypt on a disabled key
    // (azure-sdk-for-python #45342); the emulator refuses both, which is the stricter case.
    if (!v.attributes.enabled) {
      throw new HttpError(403, "Forbidden", `Operation ${opName} is not allowed on a disabled key.`, "KeyDisabled");
    }
    const t = nowS();
    if (v.attributes.exp !== undefined && t > v.attributes.exp) {
      throw new HttpError(403, "Forbidden", `Operation ${opName} is not allowed on an expired key.`);
    }
    if (v.attributes.nbf !== undefined && t < v.attributes.nbf) {
      throw new HttpError(403, "Forbidden", `Operation ${opName} is not allowed on a key that is not yet valid.`);
    }
    if (!v.keyOps.includes(opName)) {
      throw new HttpError(403, "Forbidden", `Operation ${opName} is not permitted on this key.`, "KeyOperationForbidden");
    }
    if (typeof body.alg !== "string") throw new BadParameter("Property 'alg' is required.");
    const input = decodeBase64Url(body.value);
    const out = op === "wrapkey" ? wrap(v, body.alg, input) : unwrap(v, body.alg, input);
    return { kid: kidOf(name, v), value: out.toString("base64url") };
  }

  function deleteKey(name: string, clientId: string): unknown {
    const rec = liveKey(name, clientId, "manage");
    const t = nowS();
    rec.deleted = { deletedDate: t, scheduledPurgeDate: t + RECOVERABLE_DAYS * 86400 };
    store.persist();
    return deletedBundle(rec);
  }

  function deletedKey(name: string, clientId: string, perm: Permission = "manage"): KeyRecord {
    const rec = store.keys.get(name);
    if (!rec) throw new HttpError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
    authorize(rec, clientId, perm);
    if (!rec.deleted) throw new HttpError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
    return rec;
  }

  function route(method: string, segs: string[]): Route | null {
    const [root, name, a, b] = segs;
    if (!name) return null;
    if (root === "keys") {
      if (segs.length === 3 && a === "create" && method === "POST") return { op: "create", keyName: name, run: (c, body) => createKey(name, c, body) };
      if (segs.length === 3 && a === "rotate" && method === "POST") return { op: "rotate", keyName: name, run: (c) => rotateKey(name, c) };
      if (segs.length === 2 && method === "DELETE") return { op: "delete", keyName: name, run: (c) => deleteKey(name, c) };
      if ((segs.length === 2 || segs.length === 3) && method === "GET") {
        const version = a ?? "";
        return {
          op: "get",
          keyName: name,
          run: (c) => {
            const rec = liveKey(name, c, "get");
            return bundle(rec, versionOf(rec, version));
          },
        };
      }
      if (segs.length === 3 && method === "PATCH") return { op: "update", keyName: name, run: (c, body) => updateKey(name, a ?? "", c, body) };
      if (segs.length === 4 && method === "POST" && (b === "wrapkey" || b === "unwrapkey")) {
        return { op: b, keyName: name, run: (c, body) => cryptoOp(b, name, a ?? "", c, body) };
      }
    }
    if (root === "deletedkeys") {
      if (segs.length === 2 && method === "GET") return { op: "getdeleted", keyName: name, run: (c) => deletedBundle(deletedKey(name, c, "readDeleted")) };
      if (segs.length === 2 && method === "DELETE") {
        return {
          op: "purge",
          keyName: name,
          run: (c) => {
            deletedKey(name, c);
            store.keys.delete(name);
            store.access.delete(name);
            store.readers.delete(name);
            store.persist();
            return undefined;
          },
        };
      }
      if (segs.length === 3 && a === "recover" && method === "POST") {
        return {
          op: "recover",
          keyName: name,
          run: (c) => {
            const rec = deletedKey(name, c);
            delete rec.deleted;
            store.persist();
            return bundle(rec, current(rec));
          },
        };
      }
    }
    return null;
  }

  return {
    route,
    setOrigin(o: string) {
      origin = o;
    },
  };
}
