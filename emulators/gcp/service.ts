// The Cloud KMS service logic behind gRPC: authentication by bearer token, IAM permission checks
// (policies inherited key ring → crypto key; predefined roles as in real IAM), resource lookup,
// and one table of handlers (./ops-*.ts) keyed by the gRPC method name.
import { denied, invalid, notFound, RpcError, S } from "./errors";
import { KEY_RE, LOCATION_RE, parseName, VERSION_RE } from "./names";
import type { CryptoKeyRec, KmsStore, VersionRec } from "./store";
import type * as grpc from "@grpc/grpc-js";

export interface GcpPrincipal {
  token: string;
  /** IAM member string, e.g. "serviceAccount:cmek-broker@vendor-prod.iam.gserviceaccount.com" or "user:admin@tenant.example". */
  member: string;
  /** Projects in which this principal holds roles/owner, i.e. every permission. */
  ownerOfProjects?: string[];
}

export type Req = Record<string, unknown>;
export type Handler = (svc: GcpKmsService, principal: GcpPrincipal, req: Req) => object;

export const P = {
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

export const USE_PERMISSIONS = new Set<string>([P.encrypt, P.decrypt]);
export const READ_PERMISSIONS = new Set<string>([P.ringGet, P.ringGetIam, P.keyGet, P.keyGetIam, P.verGet, P.verList]);

// Subset of the predefined roles; notably cloudkms.admin does NOT include encrypt/decrypt and
// cryptoKeyEncrypterDecrypter does NOT include cryptoKeys.get, exactly as in real IAM.
export const ROLES: Record<string, (perm: string) => boolean> = {
  "roles/owner": () => true,
  "roles/editor": () => true,
  "roles/viewer": (p) => READ_PERMISSIONS.has(p) && p !== P.ringGetIam && p !== P.keyGetIam,
  "roles/cloudkms.admin": (p) => !USE_PERMISSIONS.has(p),
  "roles/cloudkms.viewer": (p) => READ_PERMISSIONS.has(p),
  "roles/cloudkms.cryptoKeyEncrypterDecrypter": (p) => USE_PERMISSIONS.has(p),
  "roles/cloudkms.cryptoKeyEncrypter": (p) => p === P.encrypt,
  "roles/cloudkms.cryptoKeyDecrypter": (p) => p === P.decrypt,
};

export const MEMBER_RE = /^(user|serviceAccount|group|domain):\S+$|^allUsers$|^allAuthenticatedUsers$/;

export class GcpKmsService {
  readonly principals = new Map<string, GcpPrincipal>();

  constructor(readonly store: KmsStore) {}

  authenticate(md: grpc.Metadata): GcpPrincipal {
    const raw = md.get("authorization")[0];
    const m = typeof raw === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(raw) : null;
    const p = m ? this.principals.get(m[1]!) : undefined;
    if (!p) {
      throw new RpcError(
        S.UNAUTHENTICATED,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
      );
    }
    return p;
  }

  hasPermission(principal: GcpPrincipal, permission: string, name: string): boolean {
    const parsed = parseName(name) ?? (LOCATION_RE.exec(name) ? { project: LOCATION_RE.exec(name)![1]! } : null);
    if (!parsed) return false;
    if (principal.ownerOfProjects?.includes(parsed.project)) return true;
    // Policies are inherited downwards: key ring → crypto key → versions.
    const resources = "ring" in parsed ? [parsed.ring, parsed.key].filter((r): r is string => !!r) : [];
    for (const r of resources) {
      if (!(this.store.keyRings.has(r) || this.store.cryptoKeys.has(r))) continue;
      for (const b of this.store.policy(r).bindings) {
        const grants = ROLES[b.role];
        if (!grants || !grants(permission)) continue;
        if (b.members.some((m) => m === principal.member || m === "allUsers" || m === "allAuthenticatedUsers")) return true;
      }
    }
    return false;
  }

  // Permission is checked before existence, so callers without access cannot probe for names
  // (real KMS answers PERMISSION_DENIED "... (or it may not exist)" in that case).
  authorize(principal: GcpPrincipal, permission: string, name: string): void {
    if (!this.hasPermission(principal, permission, name)) throw denied(permission, name);
  }

  requireName(req: Req, field = "name"): string {
    const v = req[field];
    if (typeof v !== "string" || v === "") throw invalid(`${field} is required.`);
    return v;
  }

  getKey(name: string): CryptoKeyRec {
    if (!KEY_RE.test(name)) throw invalid(`Resource name [${name}] does not match any known type.`);
    const key = this.store.cryptoKeys.get(name);
    if (!key) throw notFound("CryptoKey", name);
    this.store.refresh(key);
    return key;
  }

  getVersion(name: string): { key: CryptoKeyRec; v: VersionRec } {
    const m = VERSION_RE.exec(name);
    if (!m) throw invalid(`Resource name [${name}] does not match any known type.`);
    const key = this.store.cryptoKeys.get(m[1]!);
    if (!key) throw notFound("CryptoKeyVersion", name);
    this.store.refresh(key);
    const v = key.versions.get(Number(m[4]));
    if (!v) throw notFound("CryptoKeyVersion", name);
    return { key, v };
  }

  iamResource(req: Req, getOrSet: "get" | "set"): { resource: string; perm: string } {
    const resource = this.requireName(req, "resource");
    const p = parseName(resource);
    if (!p || p.version !== undefined) throw invalid(`Resource name [${resource}] does not support IAM policies.`);
    if (p.key) return { resource, perm: getOrSet === "get" ? P.keyGetIam : P.keySetIam };
    return { resource, perm: getOrSet === "get" ? P.ringGetIam : P.ringSetIam };
  }

  requireExisting(resource: string): void {
    if (KEY_RE.test(resource)) {
      if (!this.store.cryptoKeys.has(resource)) throw notFound("CryptoKey", resource);
    } else if (!this.store.keyRings.has(resource)) throw notFound("KeyRing", resource);
  }

  policyProto(resource: string) {
    const p = this.store.policy(resource);
    return { version: 1, bindings: p.bindings.map((b) => ({ role: b.role, members: [...b.members] })), etag: p.etag, auditConfigs: [] };
  }
}
