// Key rings and crypto keys: create, get, and UpdateCryptoKey (labels, via update_mask).
import { invalid, notFound, RpcError, S } from "./errors";
import { ID_RE, LOCATION_RE, RING_RE } from "./names";
import { P, type Handler, type Req } from "./service";
import { DEFAULT_DESTROY_SCHEDULED_MS, type CryptoKeyRec } from "./store";
import { cryptoKeyProto, durationToMs, ts } from "./wire";

const LABEL_KEY_RE = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE_RE = /^[a-z0-9_-]{0,63}$/;
const MAX_LABELS = 64;

/** CryptoKey labels as Cloud KMS constrains them (lowercase keys starting with a letter, ≤ 63 characters, ≤ 64 labels). */
function labelsOf(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalid("labels must be a map of strings.");
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw invalid(`A resource can have at most ${MAX_LABELS} labels.`);
  for (const [k, val] of entries) {
    if (!LABEL_KEY_RE.test(k)) {
      throw invalid(
        `Label key '${k}' violates format constraints. The key can only contain lowercase letters, numeric characters, underscores, and dashes. The key must start with a lowercase letter and can be at most 63 characters long.`,
      );
    }
    if (typeof val !== "string" || !LABEL_VALUE_RE.test(val)) {
      throw invalid(
        `Label value '${String(val)}' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores, and dashes. The value can be at most 63 characters long.`,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export const keyHandlers: Record<string, Handler> = {
  CreateKeyRing(svc, principal, req) {
    const parent = svc.requireName(req, "parent");
    if (!LOCATION_RE.test(parent)) throw invalid(`Resource name [${parent}] does not match any known type.`);
    const id = req.keyRingId;
    if (typeof id !== "string" || !ID_RE.test(id)) throw invalid("key_ring_id must match [a-zA-Z0-9_-]{1,63}.");
    svc.authorize(principal, P.ringCreate, parent);
    const name = `${parent}/keyRings/${id}`;
    if (svc.store.keyRings.has(name)) throw new RpcError(S.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
    const rec = { name, createTimeMs: Date.now() };
    svc.store.keyRings.set(name, rec);
    svc.store.save();
    return { name, createTime: ts(rec.createTimeMs) };
  },

  GetKeyRing(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.ringGet, name);
    const r = svc.store.keyRings.get(name);
    if (!r) throw notFound("KeyRing", name);
    return { name, createTime: ts(r.createTimeMs) };
  },

  CreateCryptoKey(svc, principal, req) {
    const parent = svc.requireName(req, "parent");
    if (!RING_RE.test(parent)) throw invalid(`Resource name [${parent}] does not match any known type.`);
    const id = req.cryptoKeyId;
    if (typeof id !== "string" || !ID_RE.test(id)) throw invalid("crypto_key_id must match [a-zA-Z0-9_-]{1,63}.");
    svc.authorize(principal, P.keyCreate, parent);
    if (!svc.store.keyRings.has(parent)) throw notFound("KeyRing", parent);
    const spec = (req.cryptoKey ?? {}) as Req;
    if (spec.purpose !== "ENCRYPT_DECRYPT") throw invalid("The emulator supports only purpose ENCRYPT_DECRYPT.");
    const tmpl = spec.versionTemplate as Req | null | undefined;
    if (tmpl && tmpl.algorithm && !["GOOGLE_SYMMETRIC_ENCRYPTION", "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED"].includes(tmpl.algorithm as string)) {
      throw invalid("The emulator supports only algorithm GOOGLE_SYMMETRIC_ENCRYPTION.");
    }
    const name = `${parent}/cryptoKeys/${id}`;
    if (svc.store.cryptoKeys.has(name)) throw new RpcError(S.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
    // Deviation: any non-negative duration is accepted (real minimum is 24 h) so tests can reach DESTROYED.
    const dsd = durationToMs(spec.destroyScheduledDuration);
    const key: CryptoKeyRec = {
      name,
      createTimeMs: Date.now(),
      primaryId: null,
      nextVersionId: 1,
      destroyScheduledDurationMs: dsd !== null && dsd > 0 ? dsd : DEFAULT_DESTROY_SCHEDULED_MS,
      labels: labelsOf(spec.labels),
      versions: new Map(),
    };
    if (!req.skipInitialVersionCreation) key.primaryId = svc.store.newVersion(key, key.createTimeMs).id;
    svc.store.cryptoKeys.set(name, key);
    svc.store.save();
    return cryptoKeyProto(key);
  },

  GetCryptoKey(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.keyGet, name);
    return cryptoKeyProto(svc.getKey(name));
  },

  UpdateCryptoKey(svc, principal, req) {
    const body = (req.cryptoKey ?? {}) as Req;
    const name = svc.requireName(body);
    const paths = ((req.updateMask as { paths?: string[] } | null)?.paths ?? []).filter(Boolean);
    if (paths.length === 0) throw invalid("update_mask is required.");
    const unsupported = paths.filter((p) => p !== "labels");
    if (unsupported.length) throw invalid(`The emulator can only update the field labels, not: ${unsupported.join(", ")}.`);
    svc.authorize(principal, P.keyUpdate, name);
    const key = svc.getKey(name);
    // A field mask replaces the whole field: the new labels are exactly the ones sent.
    key.labels = labelsOf(body.labels);
    svc.store.save();
    return cryptoKeyProto(key);
  },
};
