// Crypto key versions: get, list, create, state changes, primary, destroy and restore.
import { notEnabled, notFound, RpcError, S, invalid } from "./errors";
import { P, type Handler, type Req } from "./service";
import { cryptoKeyProto, versionName, versionProto } from "./wire";

export const versionHandlers: Record<string, Handler> = {
  GetCryptoKeyVersion(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.verGet, name);
    const { key, v } = svc.getVersion(name);
    return versionProto(key, v);
  },

  ListCryptoKeyVersions(svc, principal, req) {
    const parent = svc.requireName(req, "parent");
    svc.authorize(principal, P.verList, parent);
    const key = svc.getKey(parent);
    const versions = [...key.versions.values()].sort((a, b) => a.id - b.id).map((v) => versionProto(key, v));
    return { cryptoKeyVersions: versions, nextPageToken: "", totalSize: versions.length };
  },

  CreateCryptoKeyVersion(svc, principal, req) {
    const parent = svc.requireName(req, "parent");
    svc.authorize(principal, P.verCreate, parent);
    const key = svc.getKey(parent);
    const v = svc.store.newVersion(key);
    svc.store.save();
    return versionProto(key, v);
  },

  UpdateCryptoKeyVersion(svc, principal, req) {
    const body = (req.cryptoKeyVersion ?? {}) as Req;
    const name = svc.requireName(body);
    const paths = ((req.updateMask as { paths?: string[] } | null)?.paths ?? []).filter(Boolean);
    if (paths.length === 0) throw invalid("update_mask is required.");
    const unsupported = paths.filter((p) => p !== "state");
    if (unsupported.length) throw invalid(`The emulator can only update the field state, not: ${unsupported.join(", ")}.`);
    svc.authorize(principal, P.verUpdate, name);
    const { key, v } = svc.getVersion(name);
    const target = body.state;
    if (target !== "ENABLED" && target !== "DISABLED") throw invalid(`The state can only be updated to ENABLED or DISABLED, not ${String(target)}.`);
    if (v.state !== "ENABLED" && v.state !== "DISABLED") {
      throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in a state that can be updated, current state is: ${v.state}.`);
    }
    v.state = target;
    svc.store.save();
    return versionProto(key, v);
  },

  UpdateCryptoKeyPrimaryVersion(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.keyUpdate, name);
    const key = svc.getKey(name);
    const id = Number(req.cryptoKeyVersionId);
    const v = key.versions.get(id);
    if (!v) throw notFound("CryptoKeyVersion", `${name}/cryptoKeyVersions/${String(req.cryptoKeyVersionId)}`);
    if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
    key.primaryId = id;
    svc.store.save();
    return cryptoKeyProto(key);
  },

  DestroyCryptoKeyVersion(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.verDestroy, name);
    const { key, v } = svc.getVersion(name);
    if (v.state !== "ENABLED" && v.state !== "DISABLED") {
      throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in a state that can be destroyed, current state is: ${v.state}.`);
    }
    v.state = "DESTROY_SCHEDULED";
    v.destroyTimeMs = Date.now() + key.destroyScheduledDurationMs;
    svc.store.save();
    return versionProto(key, v);
  },

  RestoreCryptoKeyVersion(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.verRestore, name);
    const { key, v } = svc.getVersion(name);
    if (v.state !== "DESTROY_SCHEDULED") {
      throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in state DESTROY_SCHEDULED, current state is: ${v.state}.`);
    }
    // Real KMS restores to DISABLED; the owner must enable it explicitly.
    v.state = "DISABLED";
    delete v.destroyTimeMs;
    svc.store.save();
    return versionProto(key, v);
  },
};
