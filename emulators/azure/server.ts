// Wire-compatible Azure Key Vault / Managed HSM emulator plus a minimal Entra ID token
// endpoint on the same HTTPS origin, so the broker runs the real @azure/keyvault-keys and
// @azure/identity clients against it. Protocol facts: /work/shared/KMS-NOTES.md section 2.
//
// The emulator is ONE vault owned by ONE Entra tenant (AZURE_EMULATOR_DEMO_TENANT), as in
// Azure. Principals of other tenants (the broker vendor's multi-tenant app) must obtain a
// token *for the vault's tenant*, which the real ClientSecretCredential does when the
// challenge names that tenant and `additionallyAllowedTenants` permits it.

import { listenTracked } from "../listen";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { dirname } from "node:path";
import { CallCounter, FaultInjector, type FaultAction, type FaultConfig } from "../faults";
import { loadOrCreateTls } from "./certs";
import {
  AES_SIZES,
  BadParameter,
  decodeBase64Url,
  generateMaterial,
  isRsa,
  newVersionId,
  RSA_SIZES,
  unwrap,
  wrap,
  type EmulatedKty,
  type KeyVersionRecord,
} from "./keys";

export interface AzurePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface AzureKeyVaultEmulator {
  /** "https://localhost:<port>"; keys live at the origin root because the SDK's key-id parser requires it. */
  vaultUrl: string;
  port: number;
  caPem: string;
  caFile: string;
  /** Same origin as the vault: pass as `authorityHost` to ClientSecretCredential. */
  authorityHost: string;
  faults: FaultInjector;
  calls: CallCounter;
  addPrincipal(p: AzurePrincipal): void;
  setAccess(keyName: string, clientId: string, allowed: boolean): void;
  close(): Promise<void>;
}

/** The broker's own (multi-tenant) app registration. */
export const AZURE_EMULATOR_VENDOR: AzurePrincipal = Object.freeze({
  tenantId: "11111111-1111-4111-8111-111111111111",
  clientId: "a0a0a0a0-0000-4000-8000-00000000b40c",
  clientSecret: "emulator-vendor-secret-not-for-production",
});

/** The demo customer's tenant and app registration; the emulated vault belongs to this tenant. */
export const AZURE_EMULATOR_DEMO_TENANT: AzurePrincipal = Object.freeze({
  tenantId: "22222222-2222-4222-8222-222222222222",
  clientId: "d0d0d0d0-0000-4000-8000-0000000de307",
  clientSecret: "emulator-demo-tenant-secret-not-for-production",
});

const VAULT_TENANT_ID = AZURE_EMULATOR_DEMO_TENANT.tenantId;
const KEY_NAME_RE = /^[0-9a-zA-Z-]{1,127}$/;
const TOKEN_TTL_S = 3600;
const MAX_BODY = 1 << 20;
const RECOVERABLE_DAYS = 90;

interface KeyRecord {
  name: string;
  owner: string;
  /** Oldest first; the last one is the current version. */
  versions: KeyVersionRecord[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

interface TokenRecord {
  clientId: string;
  tenantId: string;
  expiresAt: number;
}

interface PersistedState {
  format: 1;
  keys: KeyRecord[];
  access: Record<string, string[]>;
  principals: AzurePrincipal[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

const keyNotFound = (name: string) =>
  new HttpError(
    404,
    "KeyNotFound",
    `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

const forbiddenByRbac = (action: string, principal: string, name: string) =>
  new HttpError(
    403,
    "Forbidden",
    `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${principal};iss=https://sts.windows.net/${VAULT_TENANT_ID}/\r\nAction: 'Microsoft.KeyVault/vaults/keys/${action}'\r\nResource: '/keys/${name}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: emulator;location=local\r\n`,
    "ForbiddenByRbac",
  );

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "x-ms-keyvault-service-version": "emulator",
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.inner) error.innererror = { code: err.inner };
  sendJson(res, err.status, { error }, headers);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "BadParameter", "Request body too large."));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "BadParameter", "The request body is not valid JSON.");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new HttpError(400, "BadParameter", "The request body must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const nowS = () => Math.floor(Date.now() / 1000);

function optionalUnixSeconds(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadParameter(`Property '${field}' must be a Unix time in seconds.`);
  return Math.floor(v);
}

function validFaultConfig(body: Record<string, unknown>): FaultConfig {
  const allowed: FaultAction[] = ["server_error", "throttle", "reset", "blackhole"];
  const out: FaultConfig = {};
  for (const k of Object.keys(body)) {
    if (!["latencyMs", "errorRate", "error", "operations"].includes(k)) throw new Error(`unknown field '${k}'`);
  }
  if (body.latencyMs !== undefined) {
    if (typeof body.latencyMs !== "number") throw new Error("latencyMs must be a number");
    out.latencyMs = body.latencyMs;
  }
  if (body.errorRate !== undefined) {
    if (typeof body.errorRate !== "number") throw new Error("errorRate must be a number");
    out.errorRate = body.errorRate;
  }
  if (body.error !== undefined) {
    if (!allowed.includes(body.error as FaultAction)) throw new Error(`error must be one of ${allowed.join(", ")}`);
    out.error = body.error as Exclude<FaultAction, "none">;
  }
  if (body.operations !== undefined) {
    if (!Array.isArray(body.operations) || !body.operations.every((o) => typeof o === "string")) {
      throw new Error("operations must be an array of strings");
    }
    out.operations = body.operations as string[];
  }
  return out;
}

export async function startAzureKeyVaultEmulator(
  opts: { port?: number; host?: string; dataDir?: string; stateFile?: string } = {},
): Promise<AzureKeyVaultEmulator> {
  const dataDir = opts.dataDir ?? "./data";
  const host = opts.host ?? "127.0.0.1";
  const tls = await loadOrCreateTls(dataDir);

  const faults = new FaultInjector();
  const calls = new CallCounter();
  const principals = new Map<string, AzurePrincipal>();
  const keys = new Map<string, KeyRecord>();
  /** keyName → clientIds holding the "Crypto Service Encryption User" role on that key. */
  const access = new Map<string, Set<string>>();
  const tokens = new Map<string, TokenRecord>();
  const timers = new Set<NodeJS.Timeout>();
  let origin = "";

  for (const p of [AZURE_EMULATOR_VENDOR, AZURE_EMULATOR_DEMO_TENANT]) principals.set(p.clientId, { ...p });

  if (opts.stateFile && existsSync(opts.stateFile)) {
    const state = JSON.parse(readFileSync(opts.stateFile, "utf8")) as PersistedState;
    for (const k of state.keys ?? []) keys.set(k.name, k);
    for (const [name, ids] of Object.entries(state.access ?? {})) access.set(name, new Set(ids));
    for (const p of state.principals ?? []) principals.set(p.clientId, p);
  }

  function persist(): void {
    if (!opts.stateFile) return;
    const state: PersistedState = {
      format: 1,
      keys: [...keys.values()],
      access: Object.fromEntries([...access].map(([k, v]) => [k, [...v]])),
      principals: [...principals.values()],
    };
    mkdirSync(dirname(opts.stateFile), { recursive: true });
    const tmp = `${opts.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    renameSync(tmp, opts.stateFile);
  }

  function addPrincipal(p: AzurePrincipal): void {
    for (const f of ["tenantId", "clientId", "clientSecret"] as const) {
      if (typeof p?.[f] !== "string" || p[f].length === 0 || p[f].length > 256) throw new Error(`${f} must be a non-empty string`);
    }
    principals.set(p.clientId, { tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret });
    persist();
  }

  function setAccess(keyName: string, clientId: string, allowed: boolean): void {
    if (typeof keyName !== "string" || !KEY_NAME_RE.test(keyName)) throw new Error("keyName is not a valid key name");
    if (typeof clientId !== "string" || clientId.length === 0) throw new Error("clientId must be a non-empty string");
    if (typeof allowed !== "boolean") throw new Error("allowed must be a boolean");
    let set = access.get(keyName);
    if (!set) access.set(keyName, (set = new Set()));
    if (allowed) set.add(clientId);
    else set.delete(clientId);
    persist();
  }

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

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

  type Permission = "get" | "wrapKey" | "unwrapKey" | "manage";
  const rbacAction: Record<Permission, string> = {
    get: "read",
    wrapKey: "wrap/action",
    unwrapKey: "unwrap/action",
    manage: "write",
  };

  function authorize(rec: KeyRecord, clientId: string, perm: Permission): void {
    if (rec.owner === clientId) return;
    // The granted role is "Key Vault Crypto Service Encryption User": read, wrap, unwrap only.
    if (perm !== "manage" && access.get(rec.name)?.has(clientId)) return;
    throw forbiddenByRbac(rbacAction[perm], clientId, rec.name);
  }

  /** Live (not soft-deleted) key the caller may use; 403 is decided before 404 as RBAC is checked first. */
  function liveKey(name: string, clientId: string, perm: Permission): KeyRecord {
    const rec = keys.get(name);
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
    const existing = keys.get(name);
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
      tags: (body.tags as Record<string, string> | undefined) ?? undefined,
      ...(await generateMaterial(kty, keySize)),
    };
    // Creating an existing name adds a new current version, as the service does.
    const rec: KeyRecord = existing ?? { name, owner: clientId, versions: [] };
    rec.versions.push(version);
    keys.set(name, rec);
    persist();
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
    if (body.tags !== undefined) v.tags = body.tags as Record<string, string>;
    v.attributes.updated = nowS();
    persist();
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
    persist();
    return deletedBundle(rec);
  }

  function deletedKey(name: string, clientId: string): KeyRecord {
    const rec = keys.get(name);
    if (!rec) throw new HttpError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
    authorize(rec, clientId, "manage");
    if (!rec.deleted) throw new HttpError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
    return rec;
  }

  // ---------- Entra ID ----------

  function openidConfiguration(tenant: string): unknown {
    const base = `${origin}/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${origin}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "aud", "exp", "iat", "tid"],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: "EU",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  }

  async function token(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const form = new URLSearchParams((await readBody(req)).toString("utf8"));
    const aadError = (status: number, error: string, description: string, code: number) =>
      sendJson(res, status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomBytes(8).toString("hex")} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
      });
    if (form.get("grant_type") !== "client_credentials") {
      return aadError(400, "unsupported_grant_type", "The emulator supports only the client_credentials grant.", 70003);
    }
    const clientId = form.get("client_id") ?? "";
    const p = principals.get(clientId);
    if (!p) {
      return aadError(400, "unauthorized_client", `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`, 700016);
    }
    if (!safeEqual(form.get("client_secret") ?? "", p.clientSecret)) {
      return aadError(401, "invalid_client", `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, 7000215);
    }
    // A principal may get tokens from its home tenant, or from the vault's tenant (a
    // multi-tenant app consented there); any other tenant does not know the app.
    if (tenant !== p.tenantId && tenant !== VAULT_TENANT_ID) {
      return aadError(400, "unauthorized_client", `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`, 700016);
    }
    const accessToken = randomBytes(32).toString("base64url");
    tokens.set(accessToken, { clientId, tenantId: tenant, expiresAt: Date.now() + TOKEN_TTL_S * 1000 });
    sendJson(res, 200, { token_type: "Bearer", expires_in: TOKEN_TTL_S, ext_expires_in: TOKEN_TTL_S, access_token: accessToken });
  }

  // ---------- control endpoint ----------

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? "GET";
    const bad = (msg: string) => sendJson(res, 400, { error: { code: "BadParameter", message: msg } });
    let body: Record<string, unknown> = {};
    try {
      if (method === "PUT" || method === "POST") body = await readJson(req);
    } catch (e) {
      return bad(e instanceof Error ? e.message : "bad body");
    }
    try {
      if (path === "/_emulator/faults" && method === "PUT") {
        faults.set(validFaultConfig(body));
        return sendJson(res, 200, faults.current());
      }
      if (path === "/_emulator/faults" && method === "DELETE") {
        faults.clear();
        return sendJson(res, 200, {});
      }
      if (path === "/_emulator/faults" && method === "GET") return sendJson(res, 200, faults.current());
      if (path === "/_emulator/calls" && method === "GET") return sendJson(res, 200, calls.snapshot());
      if (path === "/_emulator/calls" && method === "DELETE") {
        calls.reset();
        return sendJson(res, 200, {});
      }
      if (path === "/_emulator/principals" && method === "POST") {
        addPrincipal(body as unknown as AzurePrincipal);
        return sendJson(res, 201, { tenantId: body.tenantId, clientId: body.clientId });
      }
      if (path === "/_emulator/access" && method === "PUT") {
        setAccess(body.keyName as string, body.clientId as string, body.allowed as boolean);
        return sendJson(res, 200, { keyName: body.keyName, clientId: body.clientId, allowed: body.allowed });
      }
    } catch (e) {
      return bad(e instanceof Error ? e.message : String(e));
    }
    sendJson(res, 404, { error: { code: "NotFound", message: `No control route ${method} ${path}` } });
  }

  // ---------- vault dispatch ----------

  function challengeHeader(): Record<string, string> {
    return {
      "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/${VAULT_TENANT_ID}", resource="https://vault.azure.net"`,
    };
  }

  /** Returns the caller's clientId, or answers 401 (before touching the body) and returns null. */
  function authenticate(req: IncomingMessage, res: ServerResponse): string | null {
    const header = req.headers.authorization;
    if (!header) {
      req.resume();
      sendError(res, new HttpError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), challengeHeader());
      return null;
    }
    const m = /^Bearer (\S+)$/i.exec(header);
    const rec = m ? tokens.get(m[1]!) : undefined;
    let reason: string | null = null;
    if (!rec) reason = "AKV10022: Invalid audience or token.";
    else if (rec.expiresAt <= Date.now()) reason = "AKV10032: Token expired.";
    else if (rec.tenantId !== VAULT_TENANT_ID) {
      reason = `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${VAULT_TENANT_ID}/, found https://sts.windows.net/${rec.tenantId}/.`;
    } else if (!principals.has(rec.clientId)) reason = "AKV10022: Invalid audience or token.";
    if (reason) {
      req.resume();
      sendError(res, new HttpError(401, "Unauthorized", reason), challengeHeader());
      return null;
    }
    return rec!.clientId;
  }

  interface Route {
    op: string;
    keyName: string;
    run: (clientId: string, body: Record<string, unknown>) => unknown | Promise<unknown>;
  }

  function route(method: string, segs: string[]): Route | null {
    const [root, name, a, b] = segs;
    if (!name) return null;
    if (root === "keys") {
      if (segs.length === 3 && a === "create" && method === "POST") return { op: "create", keyName: name, run: (c, body) => createKey(name, c, body) };
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
      if (segs.length === 2 && method === "GET") return { op: "getdeleted", keyName: name, run: (c) => deletedBundle(deletedKey(name, c)) };
      if (segs.length === 2 && method === "DELETE") {
        return {
          op: "purge",
          keyName: name,
          run: (c) => {
            deletedKey(name, c);
            keys.delete(name);
            access.delete(name);
            persist();
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
            persist();
            return bundle(rec, current(rec));
          },
        };
      }
    }
    return null;
  }

  async function vault(req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<void> {
    const clientId = authenticate(req, res);
    if (!clientId) return;
    const r = route(req.method ?? "GET", segs);
    if (!r) {
      req.resume();
      return sendError(res, new HttpError(404, "NotFound", `The emulator does not implement ${req.method} /${segs.join("/")}.`));
    }
    calls.record(r.op, r.keyName);
    const decision = faults.decide(r.op);
    if (decision.delayMs > 0) await delay(decision.delayMs);
    switch (decision.action) {
      case "blackhole":
        // Never answer; close() destroys the socket.
        req.resume();
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "throttle":
        req.resume();
        return sendError(
          res,
          new HttpError(429, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"),
          { "retry-after": "1" },
        );
      case "server_error":
        req.resume();
        return sendError(res, new HttpError(500, "InternalServerError", "An unexpected error occurred while processing the request."));
      case "none":
        break;
    }
    const body = req.method === "POST" || req.method === "PATCH" || req.method === "PUT" ? await readJson(req) : (req.resume(), {});
    const result = await r.run(clientId, body);
    if (result === undefined) {
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 200, result);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "https://localhost");
      const path = url.pathname;
      if (path.startsWith("/_emulator/")) return await control(req, res, path);
      let segs: string[];
      try {
        segs = path.slice(1).split("/").map(decodeURIComponent);
      } catch {
        throw new BadParameter("The request path is not valid.");
      }
      if (segs[0] === "keys" || segs[0] === "deletedkeys") return await vault(req, res, segs);
      // Entra ID: /<tenant>/v2.0/.well-known/openid-configuration and /<tenant>/oauth2/v2.0/token
      if (segs.length === 4 && segs[1] === "v2.0" && segs[2] === ".well-known" && segs[3] === "openid-configuration" && req.method === "GET") {
        return sendJson(res, 200, openidConfiguration(segs[0]!));
      }
      if (segs.length === 4 && segs[1] === "oauth2" && segs[2] === "v2.0" && segs[3] === "token" && req.method === "POST") {
        return await token(req, res, segs[0]!);
      }
      req.resume();
      sendJson(res, 404, { error: { code: "NotFound", message: `No route for ${req.method} ${path}` } });
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e);
      if (e instanceof BadParameter) return sendError(res, new HttpError(400, "BadParameter", e.message));
      sendError(res, new HttpError(500, "InternalServerError", e instanceof Error ? e.message : String(e)));
    }
  }

  const server = createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem }, (req, res) => void handle(req, res));
  const { port, sockets } = await listenTracked(server, opts.port ?? 4598, host);
  origin = `https://localhost:${port}`;

  return {
    vaultUrl: origin,
    port,
    caPem: tls.caPem,
    caFile: tls.caFile,
    authorityHost: origin,
    faults,
    calls,
    addPrincipal,
    setAccess,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
