// Wire-compatible Google Cloud KMS emulator: serves google.cloud.kms.v1.KeyManagementService and
// google.iam.v1.IAMPolicy over plaintext gRPC (HTTP/2), so the unmodified @google-cloud/kms
// client can be pointed at it. Identity comes from `authorization: Bearer <token>` metadata,
// because with insecure channel credentials the client sends no credentials of its own.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { crc32c, int64ValueToNumber } from "../../lib/kms/crc32c";
import { CallCounter, FaultInjector, type FaultConfig } from "../faults";
import { loadServices } from "./protos";
import { DEFAULT_DESTROY_SCHEDULED_MS, KmsStore, type Binding, type CryptoKeyRec, type VersionRec, type VersionState } from "./store";

export interface GcpPrincipal {
  token: string;
  /** IAM member string, e.g. "serviceAccount:cmek-broker@vendor-prod.iam.gserviceaccount.com" or "user:admin@tenant.example". */
  member: string;
  /** Projects in which this principal holds roles/owner, i.e. every permission. */
  ownerOfProjects?: string[];
}

export interface GcpKmsEmulator {
  grpcPort: number;
  controlUrl: string;
  faults: FaultInjector;
  calls: CallCounter;
  addPrincipal(p: GcpPrincipal): void;
  close(): Promise<void>;
}

export const GCP_EMULATOR_VENDOR: GcpPrincipal = Object.freeze({
  token: "gcp-emulator-vendor-token",
  member: "serviceAccount:cmek-broker@vendor-prod.iam.gserviceaccount.com",
});

export const GCP_EMULATOR_DEMO_TENANT: GcpPrincipal = Object.freeze({
  token: "gcp-emulator-demo-tenant-token",
  member: "user:admin@demo-tenant.example",
  ownerOfProjects: Object.freeze(["demo-tenant-project"]) as string[],
});

// ---------------------------------------------------------------------------------------------
// Resource names

const PROJECT = "[a-z][-a-z0-9]{4,28}[a-z0-9]";
const LOCATION = "[a-z0-9-]{1,63}";
const ID = "[a-zA-Z0-9_-]{1,63}";
const LOCATION_RE = new RegExp(`^projects/(${PROJECT})/locations/(${LOCATION})$`);
const RING_RE = new RegExp(`^projects/(${PROJECT})/locations/(${LOCATION})/keyRings/(${ID})$`);
const KEY_RE = new RegExp(`^(projects/(${PROJECT})/locations/${LOCATION}/keyRings/${ID})/cryptoKeys/(${ID})$`);
const VERSION_RE = new RegExp(`^((projects/(${PROJECT})/locations/${LOCATION}/keyRings/${ID})/cryptoKeys/${ID})/cryptoKeyVersions/([1-9][0-9]{0,9})$`);
const ID_RE = new RegExp(`^${ID}$`);

interface ParsedName {
  project: string;
  ring: string;
  key?: string;
  version?: number;
}

function parseName(name: string): ParsedName | null {
  let m = VERSION_RE.exec(name);
  if (m) return { project: m[3]!, ring: m[2]!, key: m[1]!, version: Number(m[4]) };
  m = KEY_RE.exec(name);
  if (m) return { project: m[2]!, ring: m[1]!, key: name };
  m = RING_RE.exec(name);
  if (m) return { project: m[1]!, ring: name };
  return null;
}

/** The crypto key a request is about, for call counting (version names collapse to their key). */
function cryptoKeyOf(name: unknown): string | undefined {
  if (typeof name !== "string") return undefined;
  const p = parseName(name);
  return p?.key ?? (p ? p.ring : undefined);
}

// ---------------------------------------------------------------------------------------------
// Errors

const S = grpc.status;

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly statusDetailsBin?: Buffer,
  ) {
    super(message);
  }
}

// Minimal protobuf writer: only the google.rpc.Status / PreconditionFailure shapes are needed, and
// pulling protobufjs in as a transitive import would tie us to proto-loader's internals.
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
const lenField = (field: number, b: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
const strField = (field: number, s: string) => lenField(field, Buffer.from(s, "utf8"));

function preconditionStatusBin(code: number, message: string, type: string, subject: string, description: string): Buffer {
  const violation = Buffer.concat([strField(1, type), strField(2, subject), strField(3, description)]);
  const failure = lenField(1, violation);
  const any = Buffer.concat([strField(1, "type.googleapis.com/google.rpc.PreconditionFailure"), lenField(2, failure)]);
  return Buffer.concat([varint((1 << 3) | 0), varint(code), strField(2, message), lenField(3, any)]);
}

const notFound = (kind: "KeyRing" | "CryptoKey" | "CryptoKeyVersion", name: string) =>
  new RpcError(S.NOT_FOUND, `${kind} ${name} not found.`);

const denied = (permission: string, resource: string) =>
  new RpcError(S.PERMISSION_DENIED, `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`);

const invalid = (msg: string) => new RpcError(S.INVALID_ARGUMENT, msg);

// Violation types: KEY_DISABLED is seen in real captures; the other two follow the same pattern (unverified).
const STATE_VIOLATION: Record<string, string> = {
  DISABLED: "KEY_DISABLED",
  DESTROY_SCHEDULED: "KEY_DESTROY_SCHEDULED",
  DESTROYED: "KEY_DESTROYED",
};

function notEnabled(versionName: string, state: VersionState): RpcError {
  const msg = `${versionName} is not enabled, current state is: ${state}.`;
  const type = STATE_VIOLATION[state] ?? "KEY_NOT_ENABLED";
  return new RpcError(S.FAILED_PRECONDITION, msg, preconditionStatusBin(S.FAILED_PRECONDITION, msg, type, versionName, msg));
}

const DECRYPT_FAILED = "Decryption failed: the ciphertext is invalid.";

// ---------------------------------------------------------------------------------------------
// IAM

const P = {
  ringCreate: "cloudkms.keyRings.create",
  ringGet: "cloudkms.keyRings.get",
  ringGetIam: "cloudkms.keyRings.getIamPolicy",
  ringSetIam: "cloudkms.keyRings.setIamPolicy",
  keyCreate: "cloudkms.cryptoKeys.create",
  keyGet: "cloudkms.cryptoKeys.get",
  keyUpdate: "cloudkms.cryptoKeys.update",
  keyGetIam: "cloudkms.cryptoKeys.getIamPolicy",
  keySetIam: "cloudkms.cryptoKeys.setIamPolicy",
  verCreate: "cloudkms.cryptoKeyVersions.create",
  verGet: "cloudkms.cryptoKeyVersions.get",
  verList: "cloudkms.cryptoKeyVersions.list",
  verUpdate: "cloudkms.cryptoKeyVersions.update",
  verDestroy: "cloudkms.cryptoKeyVersions.destroy",
  verRestore: "cloudkms.cryptoKeyVersions.restore",
  encrypt: "cloudkms.cryptoKeyVersions.useToEncrypt",
  decrypt: "cloudkms.cryptoKeyVersions.useToDecrypt",
} as const;

const USE_PERMISSIONS = new Set<string>([P.encrypt, P.decrypt]);
const READ_PERMISSIONS = new Set<string>([P.ringGet, P.ringGetIam, P.keyGet, P.keyGetIam, P.verGet, P.verList]);

// Subset of the predefined roles; notably cloudkms.admin does NOT include encrypt/decrypt and
// cryptoKeyEncrypterDecrypter does NOT include cryptoKeys.get, exactly as in real IAM.
const ROLES: Record<string, (perm: string) => boolean> = {
  "roles/owner": () => true,
  "roles/editor": () => true,
  "roles/viewer": (p) => READ_PERMISSIONS.has(p) && p !== P.ringGetIam && p !== P.keyGetIam,
  "roles/cloudkms.admin": (p) => !USE_PERMISSIONS.has(p),
  "roles/cloudkms.viewer": (p) => READ_PERMISSIONS.has(p),
  "roles/cloudkms.cryptoKeyEncrypterDecrypter": (p) => USE_PERMISSIONS.has(p),
  "roles/cloudkms.cryptoKeyEncrypter": (p) => p === P.encrypt,
  "roles/cloudkms.cryptoKeyDecrypter": (p) => p === P.decrypt,
};

const MEMBER_RE = /^(user|serviceAccount|group|domain):\S+$|^allUsers$|^allAuthenticatedUsers$/;

// ---------------------------------------------------------------------------------------------
// Proto helpers

interface Timestamp {
  seconds: string;
  nanos: number;
}
const ts = (ms: number): Timestamp => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
const duration = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
function durationToMs(d: unknown): number | null {
  if (!d || typeof d !== "object") return null;
  const { seconds, nanos } = d as { seconds?: string | number; nanos?: number };
  return Number(seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1_000_000);
}

const versionName = (key: CryptoKeyRec, v: VersionRec) => `${key.name}/cryptoKeyVersions/${v.id}`;

function versionProto(key: CryptoKeyRec, v: VersionRec) {
  return {
    name: versionName(key, v),
    state: v.state,
    protectionLevel: "SOFTWARE",
    algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION",
    createTime: ts(v.createTimeMs),
    generateTime: ts(v.createTimeMs),
    destroyTime: v.destroyTimeMs !== undefined ? ts(v.destroyTimeMs) : null,
    destroyEventTime: v.destroyEventTimeMs !== undefined ? ts(v.destroyEventTimeMs) : null,
  };
}

function cryptoKeyProto(key: CryptoKeyRec) {
  const primary = key.primaryId !== null ? key.versions.get(key.primaryId) : undefined;
  return {
    name: key.name,
    primary: primary ? versionProto(key, primary) : null,
    purpose: "ENCRYPT_DECRYPT",
    createTime: ts(key.createTimeMs),
    versionTemplate: { protectionLevel: "SOFTWARE", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" },
    labels: key.labels,
    destroyScheduledDuration: duration(key.destroyScheduledDurationMs),
  };
}

function bytesOf(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return Buffer.alloc(0);
}

/** Verifies an optional client-supplied checksum; returns whether one was supplied (and matched). */
function checkCrc(data: Buffer, supplied: unknown, field: string, dataField: string): boolean {
  const n = int64ValueToNumber(supplied);
  if (n === null) return false;
  if (n !== crc32c(data)) throw invalid(`The checksum in field ${field} did not match the data in field ${dataField}.`);
  return true;
}

const int64Value = (n: number) => ({ value: String(n) });

// Ciphertext layout: 0x01 | version id (uint32 BE) | 12-byte IV | AES-256-GCM ciphertext | 16-byte tag.
// Real KMS ciphertexts are opaque too and also carry the version, which is why Decrypt takes only the key name.
const CT_FORMAT = 0x01;
const CT_OVERHEAD = 1 + 4 + 12 + 16;

function seal(v: VersionRec, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", v.material!, iv);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  const head = Buffer.alloc(5);
  head[0] = CT_FORMAT;
  head.writeUInt32BE(v.id, 1);
  return Buffer.concat([head, iv, body, c.getAuthTag()]);
}

function open(material: Buffer, ciphertext: Buffer, aad: Buffer): Buffer {
  const iv = ciphertext.subarray(5, 17);
  const tag = ciphertext.subarray(ciphertext.length - 16);
  const d = createDecipheriv("aes-256-gcm", material, iv);
  d.setAAD(aad);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(ciphertext.subarray(17, ciphertext.length - 16)), d.final()]);
  } catch {
    throw invalid(DECRYPT_FAILED);
  }
}

// ---------------------------------------------------------------------------------------------
// Emulator

const GRPC_METHODS = [
  "CreateKeyRing",
  "GetKeyRing",
  "CreateCryptoKey",
  "GetCryptoKey",
  "GetCryptoKeyVersion",
  "ListCryptoKeyVersions",
  "CreateCryptoKeyVersion",
  "UpdateCryptoKeyVersion",
  "UpdateCryptoKeyPrimaryVersion",
  "DestroyCryptoKeyVersion",
  "RestoreCryptoKeyVersion",
  "Encrypt",
  "Decrypt",
] as const;

type Req = Record<string, unknown>;
type Handler = (principal: GcpPrincipal, req: Req) => object;

export async function startGcpKmsEmulator(
  opts: { port?: number; controlPort?: number; host?: string; stateFile?: string } = {},
): Promise<GcpKmsEmulator> {
  const host = opts.host ?? "127.0.0.1";
  const faults = new FaultInjector();
  const calls = new CallCounter();
  const store = new KmsStore(opts.stateFile);
  const principals = new Map<string, GcpPrincipal>();
  for (const p of [GCP_EMULATOR_VENDOR, GCP_EMULATOR_DEMO_TENANT, ...store.extraPrincipals]) principals.set(p.token, p);

  const sockets = new Map<string, net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  // ---- authorization ----

  function authenticate(md: grpc.Metadata): GcpPrincipal {
    const raw = md.get("authorization")[0];
    const m = typeof raw === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(raw) : null;
    const p = m ? principals.get(m[1]!) : undefined;
    if (!p) {
      throw new RpcError(
        S.UNAUTHENTICATED,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
      );
    }
    return p;
  }

  function hasPermission(principal: GcpPrincipal, permission: string, name: string): boolean {
    const parsed = parseName(name) ?? (LOCATION_RE.exec(name) ? { project: LOCATION_RE.exec(name)![1]! } : null);
    if (!parsed) return false;
    if (principal.ownerOfProjects?.includes(parsed.project)) return true;
    // Policies are inherited downwards: key ring → crypto key → versions.
    const resources = "ring" in parsed ? [parsed.ring, parsed.key].filter((r): r is string => !!r) : [];
    for (const r of resources) {
      if (!(store.keyRings.has(r) || store.cryptoKeys.has(r))) continue;
      for (const b of store.policy(r).bindings) {
        const grants = ROLES[b.role];
        if (!grants || !grants(permission)) continue;
        if (b.members.some((m) => m === principal.member || m === "allUsers" || m === "allAuthenticatedUsers")) return true;
      }
    }
    return false;
  }

  // Permission is checked before existence, so callers without access cannot probe for names
  // (real KMS answers PERMISSION_DENIED "... (or it may not exist)" in that case).
  function authorize(principal: GcpPrincipal, permission: string, name: string): void {
    if (!hasPermission(principal, permission, name)) throw denied(permission, name);
  }

  function requireName(req: Req, field = "name"): string {
    const v = req[field];
    if (typeof v !== "string" || v === "") throw invalid(`${field} is required.`);
    return v;
  }

  function getKey(name: string): CryptoKeyRec {
    if (!KEY_RE.test(name)) throw invalid(`Resource name [${name}] does not match any known type.`);
    const key = store.cryptoKeys.get(name);
    if (!key) throw notFound("CryptoKey", name);
    store.refresh(key);
    return key;
  }

  function getVersion(name: string): { key: CryptoKeyRec; v: VersionRec } {
    const m = VERSION_RE.exec(name);
    if (!m) throw invalid(`Resource name [${name}] does not match any known type.`);
    const key = store.cryptoKeys.get(m[1]!);
    if (!key) throw notFound("CryptoKeyVersion", name);
    store.refresh(key);
    const v = key.versions.get(Number(m[4]));
    if (!v) throw notFound("CryptoKeyVersion", name);
    return { key, v };
  }

  function iamResource(req: Req, getOrSet: "get" | "set"): { resource: string; perm: string } {
    const resource = requireName(req, "resource");
    const p = parseName(resource);
    if (!p || p.version !== undefined) throw invalid(`Resource name [${resource}] does not support IAM policies.`);
    if (p.key) return { resource, perm: getOrSet === "get" ? P.keyGetIam : P.keySetIam };
    return { resource, perm: getOrSet === "get" ? P.ringGetIam : P.ringSetIam };
  }

  function requireExisting(resource: string): void {
    if (KEY_RE.test(resource)) {
      if (!store.cryptoKeys.has(resource)) throw notFound("CryptoKey", resource);
    } else if (!store.keyRings.has(resource)) throw notFound("KeyRing", resource);
  }

  const policyProto = (resource: string) => {
    const p = store.policy(resource);
    return { version: 1, bindings: p.bindings.map((b) => ({ role: b.role, members: [...b.members] })), etag: p.etag, auditConfigs: [] };
  };

  // ---- handlers ----

  const kms: Record<(typeof GRPC_METHODS)[number], Handler> = {
    CreateKeyRing(principal, req) {
      const parent = requireName(req, "parent");
      if (!LOCATION_RE.test(parent)) throw invalid(`Resource name [${parent}] does not match any known type.`);
      const id = req.keyRingId;
      if (typeof id !== "string" || !ID_RE.test(id)) throw invalid("key_ring_id must match [a-zA-Z0-9_-]{1,63}.");
      authorize(principal, P.ringCreate, parent);
      const name = `${parent}/keyRings/${id}`;
      if (store.keyRings.has(name)) throw new RpcError(S.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
      const rec = { name, createTimeMs: Date.now() };
      store.keyRings.set(name, rec);
      store.save();
      return { name, createTime: ts(rec.createTimeMs) };
    },

    GetKeyRing(principal, req) {
      const name = requireName(req);
      authorize(principal, P.ringGet, name);
      const r = store.keyRings.get(name);
      if (!r) throw notFound("KeyRing", name);
      return { name, createTime: ts(r.createTimeMs) };
    },

    CreateCryptoKey(principal, req) {
      const parent = requireName(req, "parent");
      if (!RING_RE.test(parent)) throw invalid(`Resource name [${parent}] does not match any known type.`);
      const id = req.cryptoKeyId;
      if (typeof id !== "string" || !ID_RE.test(id)) throw invalid("crypto_key_id must match [a-zA-Z0-9_-]{1,63}.");
      authorize(principal, P.keyCreate, parent);
      if (!store.keyRings.has(parent)) throw notFound("KeyRing", parent);
      const spec = (req.cryptoKey ?? {}) as Req;
      if (spec.purpose !== "ENCRYPT_DECRYPT") throw invalid("The emulator supports only purpose ENCRYPT_DECRYPT.");
      const tmpl = spec.versionTemplate as Req | null | undefined;
      if (tmpl && tmpl.algorithm && !["GOOGLE_SYMMETRIC_ENCRYPTION", "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED"].includes(tmpl.algorithm as string)) {
        throw invalid("The emulator supports only algorithm GOOGLE_SYMMETRIC_ENCRYPTION.");
      }
      const name = `${parent}/cryptoKeys/${id}`;
      if (store.cryptoKeys.has(name)) throw new RpcError(S.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
      // Deviation: any non-negative duration is accepted (real minimum is 24 h) so tests can reach DESTROYED.
      const dsd = durationToMs(spec.destroyScheduledDuration);
      const key: CryptoKeyRec = {
        name,
        createTimeMs: Date.now(),
        primaryId: null,
        nextVersionId: 1,
        destroyScheduledDurationMs: dsd !== null && dsd > 0 ? dsd : DEFAULT_DESTROY_SCHEDULED_MS,
        labels: { ...((spec.labels as Record<string, string> | undefined) ?? {}) },
        versions: new Map(),
      };
      if (!req.skipInitialVersionCreation) key.primaryId = store.newVersion(key, key.createTimeMs).id;
      store.cryptoKeys.set(name, key);
      store.save();
      return cryptoKeyProto(key);
    },

    GetCryptoKey(principal, req) {
      const name = requireName(req);
      authorize(principal, P.keyGet, name);
      return cryptoKeyProto(getKey(name));
    },

    GetCryptoKeyVersion(principal, req) {
      const name = requireName(req);
      authorize(principal, P.verGet, name);
      const { key, v } = getVersion(name);
      return versionProto(key, v);
    },

    ListCryptoKeyVersions(principal, req) {
      const parent = requireName(req, "parent");
      authorize(principal, P.verList, parent);
      const key = getKey(parent);
      const versions = [...key.versions.values()].sort((a, b) => a.id - b.id).map((v) => versionProto(key, v));
      return { cryptoKeyVersions: versions, nextPageToken: "", totalSize: versions.length };
    },

    CreateCryptoKeyVersion(principal, req) {
      const parent = requireName(req, "parent");
      authorize(principal, P.verCreate, parent);
      const key = getKey(parent);
      const v = store.newVersion(key);
      store.save();
      return versionProto(key, v);
    },

    UpdateCryptoKeyVersion(principal, req) {
      const body = (req.cryptoKeyVersion ?? {}) as Req;
      const name = requireName(body);
      const paths = ((req.updateMask as { paths?: string[] } | null)?.paths ?? []).filter(Boolean);
      if (paths.length === 0) throw invalid("update_mask is required.");
      const unsupported = paths.filter((p) => p !== "state");
      if (unsupported.length) throw invalid(`The emulator can only update the field state, not: ${unsupported.join(", ")}.`);
      authorize(principal, P.verUpdate, name);
      const { key, v } = getVersion(name);
      const target = body.state;
      if (target !== "ENABLED" && target !== "DISABLED") throw invalid(`The state can only be updated to ENABLED or DISABLED, not ${String(target)}.`);
      if (v.state !== "ENABLED" && v.state !== "DISABLED") {
        throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in a state that can be updated, current state is: ${v.state}.`);
      }
      v.state = target;
      store.save();
      return versionProto(key, v);
    },

    UpdateCryptoKeyPrimaryVersion(principal, req) {
      const name = requireName(req);
      authorize(principal, P.keyUpdate, name);
      const key = getKey(name);
      const id = Number(req.cryptoKeyVersionId);
      const v = key.versions.get(id);
      if (!v) throw notFound("CryptoKeyVersion", `${name}/cryptoKeyVersions/${String(req.cryptoKeyVersionId)}`);
      if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
      key.primaryId = id;
      store.save();
      return cryptoKeyProto(key);
    },

    DestroyCryptoKeyVersion(principal, req) {
      const name = requireName(req);
      authorize(principal, P.verDestroy, name);
      const { key, v } = getVersion(name);
      if (v.state !== "ENABLED" && v.state !== "DISABLED") {
        throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in a state that can be destroyed, current state is: ${v.state}.`);
      }
      v.state = "DESTROY_SCHEDULED";
      v.destroyTimeMs = Date.now() + key.destroyScheduledDurationMs;
      store.save();
      return versionProto(key, v);
    },

    RestoreCryptoKeyVersion(principal, req) {
      const name = requireName(req);
      authorize(principal, P.verRestore, name);
      const { key, v } = getVersion(name);
      if (v.state !== "DESTROY_SCHEDULED") {
        throw new RpcError(S.FAILED_PRECONDITION, `${name} is not in state DESTROY_SCHEDULED, current state is: ${v.state}.`);
      }
      // Real KMS restores to DISABLED; the owner must enable it explicitly.
      v.state = "DISABLED";
      delete v.destroyTimeMs;
      store.save();
      return versionProto(key, v);
    },

    Encrypt(principal, req) {
      const name = requireName(req);
      authorize(principal, P.encrypt, name);
      let key: CryptoKeyRec;
      let v: VersionRec | undefined;
      if (VERSION_RE.test(name)) ({ key, v } = getVersion(name));
      else {
        key = getKey(name);
        v = key.primaryId !== null ? key.versions.get(key.primaryId) : undefined;
        if (!v) throw new RpcError(S.FAILED_PRECONDITION, `${name} does not have a primary version.`);
      }
      const plaintext = bytesOf(req.plaintext);
      const aad = bytesOf(req.additionalAuthenticatedData);
      if (plaintext.length === 0) throw invalid("plaintext is required.");
      if (plaintext.length > 65536) throw invalid("plaintext must be at most 65536 bytes.");
      if (aad.length > 65536) throw invalid("additional_authenticated_data must be at most 65536 bytes.");
      const verifiedPlaintextCrc32c = checkCrc(plaintext, req.plaintextCrc32c, "plaintext_crc32c", "plaintext");
      const verifiedAdditionalAuthenticatedDataCrc32c = checkCrc(
        aad,
        req.additionalAuthenticatedDataCrc32c,
        "additional_authenticated_data_crc32c",
        "additional_authenticated_data",
      );
      if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
      const ciphertext = seal(v, plaintext, aad);
      return {
        name: versionName(key, v),
        ciphertext,
        ciphertextCrc32c: int64Value(crc32c(ciphertext)),
        verifiedPlaintextCrc32c,
        verifiedAdditionalAuthenticatedDataCrc32c,
        protectionLevel: "SOFTWARE",
      };
    },

    Decrypt(principal, req) {
      const name = requireName(req);
      authorize(principal, P.decrypt, name);
      const key = getKey(name);
      const ciphertext = bytesOf(req.ciphertext);
      const aad = bytesOf(req.additionalAuthenticatedData);
      if (ciphertext.length === 0) throw invalid("ciphertext is required.");
      checkCrc(ciphertext, req.ciphertextCrc32c, "ciphertext_crc32c", "ciphertext");
      checkCrc(aad, req.additionalAuthenticatedDataCrc32c, "additional_authenticated_data_crc32c", "additional_authenticated_data");
      if (ciphertext.length < CT_OVERHEAD + 1 || ciphertext[0] !== CT_FORMAT) throw invalid(DECRYPT_FAILED);
      const v = key.versions.get(ciphertext.readUInt32BE(1));
      if (!v) throw invalid(DECRYPT_FAILED);
      if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
      const plaintext = open(v.material!, ciphertext, aad);
      return {
        plaintext,
        plaintextCrc32c: int64Value(crc32c(plaintext)),
        usedPrimary: v.id === key.primaryId,
        protectionLevel: "SOFTWARE",
      };
    },
  };

  const iam: Record<"GetIamPolicy" | "SetIamPolicy" | "TestIamPermissions", Handler> = {
    GetIamPolicy(principal, req) {
      const { resource, perm } = iamResource(req, "get");
      authorize(principal, perm, resource);
      requireExisting(resource);
      return policyProto(resource);
    },

    SetIamPolicy(principal, req) {
      const { resource, perm } = iamResource(req, "set");
      authorize(principal, perm, resource);
      requireExisting(resource);
      const policy = (req.policy ?? {}) as { bindings?: Array<{ role?: string; members?: string[]; condition?: { expression?: string } | null }>; etag?: Buffer };
      const current = store.policy(resource);
      // Read-modify-write protection, as real IAM does with the etag from GetIamPolicy.
      if (policy.etag && policy.etag.length > 0 && !policy.etag.equals(current.etag)) {
        throw new RpcError(S.ABORTED, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.");
      }
      const bindings: Binding[] = [];
      for (const b of policy.bindings ?? []) {
        if (!b.role || !b.role.startsWith("roles/")) throw invalid(`Role ${String(b.role)} is not supported for this resource.`);
        if (b.condition?.expression) throw invalid("The emulator does not support IAM conditions.");
        for (const m of b.members ?? []) if (!MEMBER_RE.test(m)) throw invalid(`Invalid member: ${m}`);
        const members = [...new Set(b.members ?? [])];
        if (members.length) bindings.push({ role: b.role, members });
      }
      store.policies.set(resource, { bindings, etag: randomBytes(8) });
      store.save();
      return policyProto(resource);
    },

    TestIamPermissions(principal, req) {
      const resource = requireName(req, "resource");
      const perms = Array.isArray(req.permissions) ? (req.permissions as string[]) : [];
      return { permissions: perms.filter((p) => hasPermission(principal, p, resource)) };
    },
  };

  // ---- transport + faults ----

  function toServiceError(e: unknown): Partial<grpc.ServiceError> {
    if (e instanceof RpcError) {
      const metadata = new grpc.Metadata();
      if (e.statusDetailsBin) metadata.set("grpc-status-details-bin", e.statusDetailsBin);
      return { code: e.code, details: e.message, metadata };
    }
    return { code: S.INTERNAL, details: `Internal error encountered: ${e instanceof Error ? e.message : String(e)}` };
  }

  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  }

  function wrap(method: string, fn: Handler): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      void (async () => {
        const req = call.request ?? {};
        calls.record(method, cryptoKeyOf(req.name ?? req.parent ?? req.resource ?? (req.cryptoKeyVersion as Req | null)?.name));
        const d = faults.decide(method);
        if (d.delayMs > 0) await delay(d.delayMs);
        if (closed) return;
        switch (d.action) {
          case "blackhole":
            // Never answer; close() force-shuts the server, which cancels the call.
            return;
          case "throttle":
            throw new RpcError(
              S.RESOURCE_EXHAUSTED,
              "Quota exceeded for quota metric 'Cryptographic requests' and limit 'Cryptographic requests per minute per region' of service 'cloudkms.googleapis.com'.",
            );
          case "server_error":
            throw Math.random() < 0.5
              ? new RpcError(S.UNAVAILABLE, "The service is currently unavailable.")
              : new RpcError(S.INTERNAL, "Internal error encountered.");
          case "reset": {
            // Drop the whole TCP connection, as a crashed frontend or middlebox would.
            const sock = sockets.get(call.getPeer());
            if (sock) {
              sock.destroy();
              return;
            }
            throw new RpcError(S.UNAVAILABLE, "Connection reset");
          }
          case "none":
            break;
        }
        const principal = authenticate(call.metadata);
        callback(null, fn(principal, req));
      })().catch((e: unknown) => {
        if (!closed) callback(toServiceError(e));
      });
    };
  }

  const services = loadServices();
  const server = new grpc.Server();
  server.addService(services.kms, Object.fromEntries(GRPC_METHODS.map((m) => [m, wrap(m, kms[m])])));
  server.addService(services.iam, Object.fromEntries(Object.entries(iam).map(([m, fn]) => [m, wrap(m, fn)])));

  // Own the TCP listener (instead of bindAsync) so "reset" can destroy the exact socket a call arrived on.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const tcp = net.createServer((sock) => {
    const peer = peerKey(sock);
    sockets.set(peer, sock);
    sock.on("close", () => sockets.delete(peer));
    injector.injectConnection(sock);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(opts.port ?? 4597, host, () => resolve());
  });
  const grpcPort = (tcp.address() as net.AddressInfo).port;

  // ---- control plane ----

  function addPrincipal(p: GcpPrincipal): void {
    validatePrincipal(p);
    principals.set(p.token, { token: p.token, member: p.member, ...(p.ownerOfProjects ? { ownerOfProjects: [...p.ownerOfProjects] } : {}) });
    store.extraPrincipals = store.extraPrincipals.filter((x) => x.token !== p.token).concat([principals.get(p.token)!]);
    store.save();
  }

  const control = http.createServer((req, res) => {
    void handleControl(req, res).catch((e: unknown) => send(res, 400, { error: e instanceof Error ? e.message : String(e) }));
  });

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://emulator");
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case "GET /_emulator/faults":
        return send(res, 200, faults.current());
      case "PUT /_emulator/faults": {
        const cfg = parseFaultConfig(await readJson(req));
        faults.set(cfg);
        return send(res, 200, faults.current());
      }
      case "DELETE /_emulator/faults":
        faults.clear();
        return send(res, 200, {});
      case "GET /_emulator/calls":
        return send(res, 200, calls.snapshot());
      case "DELETE /_emulator/calls":
        calls.reset();
        return send(res, 200, {});
      case "POST /_emulator/principals": {
        const body = (await readJson(req)) as GcpPrincipal;
        addPrincipal(body);
        return send(res, 201, { member: body.member });
      }
      default:
        return send(res, 404, { error: `no route ${route}` });
    }
  }

  await new Promise<void>((resolve, reject) => {
    control.once("error", reject);
    control.listen(opts.controlPort ?? 4596, host, () => resolve());
  });
  const controlAddr = control.address() as net.AddressInfo;
  const controlUrl = `http://${host.includes(":") ? `[${host}]` : host}:${controlAddr.port}`;

  return {
    grpcPort,
    controlUrl,
    faults,
    calls,
    addPrincipal,
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      injector.destroy();
      server.forceShutdown();
      for (const s of sockets.values()) s.destroy();
      control.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => tcp.close(() => r())),
        new Promise<void>((r) => control.close(() => r())),
      ]);
    },
  };
}

// Must match grpc-js's server-side getPeer(): `${remoteAddress}:${remotePort}`, unbracketed even for IPv6.
function peerKey(sock: net.Socket): string {
  return `${sock.remoteAddress ?? ""}:${sock.remotePort ?? 0}`;
}

function validatePrincipal(p: unknown): asserts p is GcpPrincipal {
  if (!p || typeof p !== "object") throw new Error("principal must be an object");
  const { token, member, ownerOfProjects } = p as Record<string, unknown>;
  if (typeof token !== "string" || !/^\S{8,}$/.test(token)) throw new Error("token must be a string of at least 8 non-space characters");
  if (typeof member !== "string" || !MEMBER_RE.test(member) || member.startsWith("all")) {
    throw new Error('member must look like "user:…", "serviceAccount:…", "group:…" or "domain:…"');
  }
  if (ownerOfProjects !== undefined && (!Array.isArray(ownerOfProjects) || !ownerOfProjects.every((x) => typeof x === "string" && new RegExp(`^${PROJECT}$`).test(x)))) {
    throw new Error("ownerOfProjects must be an array of project ids");
  }
}

const FAULT_ERRORS = new Set(["server_error", "throttle", "reset", "blackhole"]);

function parseFaultConfig(body: unknown): FaultConfig {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !["latencyMs", "errorRate", "error", "operations"].includes(k));
  if (unknown.length) throw new Error(`unknown fault fields: ${unknown.join(", ")}`);
  if (b.latencyMs !== undefined && (typeof b.latencyMs !== "number" || !Number.isFinite(b.latencyMs))) throw new Error("latencyMs must be a number");
  if (b.errorRate !== undefined && typeof b.errorRate !== "number") throw new Error("errorRate must be a number");
  if (b.error !== undefined && (typeof b.error !== "string" || !FAULT_ERRORS.has(b.error))) {
    throw new Error(`error must be one of ${[...FAULT_ERRORS].join(", ")}`);
  }
  if (b.operations !== undefined && (!Array.isArray(b.operations) || !b.operations.every((o) => typeof o === "string"))) {
    throw new Error("operations must be an array of method names");
  }
  return b as FaultConfig;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 64 * 1024) throw new Error("body too large");
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new Error("body is not valid JSON");
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
