// Azure provider end to end: the real @azure/keyvault-keys and @azure/identity clients against
// the in-process emulator (HTTPS with its own CA, fake Entra ID on the same origin).
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { KeyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AZURE_EMULATOR_DEMO_TENANT as TENANT,
  AZURE_EMULATOR_VENDOR as VENDOR,
  startAzureKeyVaultEmulator,
  type AzureKeyVaultEmulator,
} from "../../emulators/azure/server";
import { AzureKeyVaultProvider, DEFAULT_AZURE_HOST_SUFFIXES } from "../../lib/kms/azure";
import { KmsError } from "../../lib/kms/types";

const CTX = { tenant: "t1", dek: "d1" };
const TIMEOUT_MS = 1500;

let dataDir: string;
let emu: AzureKeyVaultEmulator;
let tenantKeys: KeyClient;
let provider: AzureKeyVaultProvider;

function tenantCredential(e: AzureKeyVaultEmulator) {
  return new ClientSecretCredential(TENANT.tenantId, TENANT.clientId, TENANT.clientSecret, {
    authorityHost: e.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: e.caPem },
  });
}

function tenantKeyClient(e: AzureKeyVaultEmulator) {
  return new KeyClient(e.vaultUrl, tenantCredential(e), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: e.caPem },
    retryOptions: { maxRetries: 0 },
  });
}

function vendorProvider(e: AzureKeyVaultEmulator, overrides: Partial<ConstructorParameters<typeof AzureKeyVaultProvider>[0]> = {}) {
  return new AzureKeyVaultProvider({
    tenantId: VENDOR.tenantId,
    clientId: VENDOR.clientId,
    clientSecret: VENDOR.clientSecret,
    authorityHost: e.authorityHost,
    allowedHostSuffixes: [...DEFAULT_AZURE_HOST_SUFFIXES, `localhost:${e.port}`],
    caPem: e.caPem,
    timeoutMs: TIMEOUT_MS,
    maxRetries: 1,
    ...overrides,
  });
}

/** Tenant creates a key and grants the vendor the Crypto Service Encryption User role on it. */
async function tenantKey(name: string, kty: "RSA" | "oct-HSM" = "RSA") {
  const key = await tenantKeys.createKey(name, kty, { keySize: kty === "RSA" ? 2048 : 256 });
  emu.setAccess(name, VENDOR.clientId, true);
  return { keyId: `${emu.vaultUrl}/keys/${name}`, version: key.properties.version! };
}

async function kmsError(p: Promise<unknown>): Promise<KmsError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KmsError);
    return e as KmsError;
  }
  throw new Error("expected a KmsError, the call succeeded");
}

function control(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const req = request(
      { host: "localhost", port: emu.port, path, method, ca: emu.caPem, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : null }));
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "azure-emu-"));
  emu = await startAzureKeyVaultEmulator({ port: 0, dataDir });
  tenantKeys = tenantKeyClient(emu);
  provider = vendorProvider(emu);
});

afterAll(async () => {
  await emu?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("AzureKeyVaultProvider against the emulator", () => {
  it("wraps and unwraps a 32-byte DEK with an RSA key and a Managed HSM AES key, and describes them", async () => {
    const dek = Buffer.alloc(32, 0x5a);
    for (const kty of ["RSA", "oct-HSM"] as const) {
      const { keyId, version } = await tenantKey(`happy-${kty.toLowerCase()}`, kty);
      const w = await provider.wrap(keyId, dek, CTX);
      expect(w.keyVersion).toBe(version);
      expect(w.wrapped.length).toBe(3 + 32 + (kty === "RSA" ? 256 : 40));
      expect((await provider.unwrap(keyId, w.wrapped, CTX)).equals(dek)).toBe(true);
      expect(await provider.describe(keyId)).toEqual({ enabled: true, state: "Enabled", currentVersion: version });
    }
    // Every wrap reached the service (RSA-OAEP-256 and A256KW are never done locally by the SDK).
    expect(emu.calls.count("wrapkey", "happy-rsa")).toBe(1);
    expect(emu.calls.count("wrapkey", "happy-oct-hsm")).toBe(1);
  });

  it("keys of one vault share the provider's connections (no TLS session, and no copy of the CA store, per key)", async () => {
    const keys = [];
    for (let i = 0; i < 12; i++) keys.push((await tenantKey(`shared-conn-${i}`)).keyId);
    const fresh = vendorProvider(emu);
    const dek = Buffer.alloc(32, 7);
    await fresh.wrap(keys[0]!, dek, CTX); // first connection and token
    const before = emu.tlsConnections();
    for (const keyId of keys) {
      const w = await fresh.wrap(keyId, dek, CTX);
      expect((await fresh.unwrap(keyId, w.wrapped, CTX)).equals(dek)).toBe(true);
    }
    // One client per key, one keep-alive agent for all of them: the connection is reused.
    // Before, each key's client opened its own connection (12 here), each with its own copy of
    // the root store (~840 KiB of native memory).
    expect(emu.tlsConnections() - before).toBeLessThanOrEqual(1);
  });

  it("keeps unwrapping with the version that wrapped after the key is rotated", async () => {
    const { keyId, version: v1 } = await tenantKey("rotating");
    const dek = Buffer.alloc(32, 1);
    const w1 = await provider.wrap(keyId, dek, CTX);
    const v2 = (await tenantKeys.createKey("rotating", "RSA")).properties.version!;
    const w2 = await provider.wrap(keyId, dek, CTX);
    expect([w1.keyVersion, w2.keyVersion]).toEqual([v1, v2]);
    expect((await provider.unwrap(keyId, w1.wrapped, CTX)).equals(dek)).toBe(true);
    expect((await provider.unwrap(keyId, w2.wrapped, CTX)).equals(dek)).toBe(true);
  });

  it("classifies tampered wrapped keys as invalid, never as revoked", async () => {
    const { keyId } = await tenantKey("tamper");
    const { keyId: hsmId } = await tenantKey("tamper-hsm", "oct-HSM");
    for (const id of [keyId, hsmId]) {
      const w = await provider.wrap(id, Buffer.alloc(32, 2), CTX);
      const flipped = Buffer.from(w.wrapped);
      flipped[flipped.length - 1]! ^= 0x01;
      const e = await kmsError(provider.unwrap(id, flipped, CTX));
      expect([e.kind, e.detail.providerCode]).toEqual(["invalid", "BadParameter"]);
    }
    const w = await provider.wrap(keyId, Buffer.alloc(32, 2), CTX);
    // A flip inside the stored key version names a version the key does not have.
    const badVersion = Buffer.from(w.wrapped);
    badVersion[3] = badVersion[3] === 0x61 ? 0x62 : 0x61;
    expect((await kmsError(provider.unwrap(keyId, badVersion, CTX))).kind).toBe("invalid");
    expect((await kmsError(provider.unwrap(keyId, Buffer.from([9, 9, 9, 9]), CTX))).kind).toBe("invalid");
  });

  it("disable → revoked/disabled; re-enable restores", async () => {
    const { keyId, version } = await tenantKey("rev-disable");
    const dek = Buffer.alloc(32, 3);
    const w = await provider.wrap(keyId, dek, CTX);
    await tenantKeys.updateKeyProperties("rev-disable", version, { enabled: false });
    const e = await kmsError(provider.unwrap(keyId, w.wrapped, CTX));
    expect([e.kind, e.reason, e.detail.providerCode]).toEqual(["revoked", "disabled", "KeyDisabled"]);
    expect((await kmsError(provider.wrap(keyId, dek, CTX))).reason).toBe("disabled");
    expect(await provider.describe(keyId)).toMatchObject({ enabled: false, state: "Disabled" });
    await tenantKeys.updateKeyProperties("rev-disable", version, { enabled: true });
    expect((await provider.unwrap(keyId, w.wrapped, CTX)).equals(dek)).toBe(true);
  });

  it("delete → revoked/not_found; recovery restores", async () => {
    const { keyId } = await tenantKey("rev-delete");
    const dek = Buffer.alloc(32, 4);
    const w = await provider.wrap(keyId, dek, CTX);
    await (await tenantKeys.beginDeleteKey("rev-delete", { intervalInMs: 20 })).pollUntilDone();
    const e = await kmsError(provider.unwrap(keyId, w.wrapped, CTX));
    expect([e.kind, e.reason, e.detail.providerCode]).toEqual(["revoked", "not_found", "KeyNotFound"]);
    expect((await kmsError(provider.describe(keyId))).reason).toBe("not_found");
    await (await tenantKeys.beginRecoverDeletedKey("rev-delete", { intervalInMs: 20 })).pollUntilDone();
    expect((await provider.unwrap(keyId, w.wrapped, CTX)).equals(dek)).toBe(true);
  });

  it("role assignment removed → revoked/access_denied; re-granted restores", async () => {
    const { keyId } = await tenantKey("rev-access");
    const dek = Buffer.alloc(32, 5);
    const w = await provider.wrap(keyId, dek, CTX);
    emu.setAccess("rev-access", VENDOR.clientId, false);
    const e = await kmsError(provider.unwrap(keyId, w.wrapped, CTX));
    expect([e.kind, e.reason, e.detail.providerCode]).toEqual(["revoked", "access_denied", "ForbiddenByRbac"]);
    emu.setAccess("rev-access", VENDOR.clientId, true);
    expect((await provider.unwrap(keyId, w.wrapped, CTX)).equals(dek)).toBe(true);
  });

  it("a key past its exp is revoked/disabled (the SDK refuses it client-side)", async () => {
    await tenantKeys.createKey("expired", "RSA", { expiresOn: new Date(Date.now() - 60_000) });
    emu.setAccess("expired", VENDOR.clientId, true);
    const e = await kmsError(provider.wrap(`${emu.vaultUrl}/keys/expired`, Buffer.alloc(32), CTX));
    expect([e.kind, e.reason]).toEqual(["revoked", "disabled"]);
  });

  it("a wrong vendor secret is unavailable, never revoked", async () => {
    const { keyId } = await tenantKey("bad-secret");
    for (const overrides of [{ clientSecret: "wrong" }, { clientId: "unknown-app" }]) {
      const p = vendorProvider(emu, overrides);
      expect((await kmsError(p.wrap(keyId, Buffer.alloc(32), CTX))).kind).toBe("unavailable");
    }
  });

  describe("faults are unavailable and bounded in time", () => {
    let keyId: string;
    let wrapped: Buffer;
    const dek = Buffer.alloc(32, 6);

    beforeAll(async () => {
      ({ keyId } = await tenantKey("faulty"));
      wrapped = (await provider.wrap(keyId, dek, CTX)).wrapped;
    });

    async function underFault(fault: Parameters<AzureKeyVaultEmulator["faults"]["set"]>[0]) {
      emu.faults.set({ operations: ["unwrapkey"], ...fault });
      emu.calls.reset();
      const started = Date.now();
      try {
        const e = await kmsError(provider.unwrap(keyId, wrapped, CTX));
        const elapsed = Date.now() - started;
        expect(e.kind).toBe("unavailable");
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 500);
        return { e, elapsed, attempts: emu.calls.count("unwrapkey", "faulty") };
      } finally {
        emu.faults.clear();
      }
    }

    it("latency past the timeout", async () => {
      const { e, elapsed } = await underFault({ latencyMs: 5000 });
      expect(e.detail.providerCode).toBe("Timeout");
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    });

    it("server_error (retried once)", async () => {
      const { e, attempts } = await underFault({ error: "server_error" });
      expect(e.detail.providerCode).toBe("InternalServerError");
      expect(attempts).toBe(2);
    });

    it("throttle: Retry-After surfaced, attempts bounded", async () => {
      const { e, attempts } = await underFault({ error: "throttle" });
      expect(e.detail.providerCode).toBe("Throttled");
      expect(e.detail.retryAfterSeconds).toBe(1);
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(2);
    });

    it("connection reset", async () => {
      const { attempts } = await underFault({ error: "reset" });
      expect(attempts).toBeLessThanOrEqual(2);
    });

    it("blackhole returns within the bound", async () => {
      const { e } = await underFault({ error: "blackhole" });
      expect(e.detail.providerCode).toBe("Timeout");
    });

    it("works again once the fault is cleared", async () => {
      expect((await provider.unwrap(keyId, wrapped, CTX)).equals(dek)).toBe(true);
    });
  });
});

describe("validateKeyRef (SSRF guard)", () => {
  const p = new AzureKeyVaultProvider({
    credential: { getToken: () => Promise.resolve(null) },
    allowedHostSuffixes: [...DEFAULT_AZURE_HOST_SUFFIXES, "localhost:4598"],
  });
  const V = "0123456789abcdef0123456789abcdef";
  it.each([
    ["https://myvault.vault.azure.net/keys/cmk", true],
    [`https://myvault.vault.azure.net/keys/cmk-1/${V}`, true],
    ["https://my-hsm.managedhsm.azure.net/keys/aes-kek", true],
    ["https://localhost:4598/keys/k", true],
    ["https://evil.com/keys/x", /not allowed/],
    ["http://myvault.vault.azure.net/keys/k", /must use https/],
    ["https://myvault.vault.azure.net/keys/k/extra/path", /must be \/keys\/<name>/],
    ["https://myvault.vault.azure.net/secrets/k", /must be \/keys\/<name>/],
    ["https://myvault.vault.azure.net/keys/k?api-version=7.4", /query/],
    ["https://myvault.vault.azure.net/keys/k#frag", /fragment/],
    ["https://x.vault.azure.net@evil.com/keys/k", /user info/],
    ["https://vault.azure.net.evil.com/keys/k", /not allowed/],
    ["https://vault.azure.net/keys/k", /not allowed/],
    ["https://a.b.vault.azure.net/keys/k", /not allowed/],
    ["https://myvault.vault.azure.net:8443/keys/k", /not allowed/],
    ["https://localhost:4599/keys/k", /not allowed/],
    ["https://myvault.vault.azure.net/keys/bad_name", /key name/],
    ["https://myvault.vault.azure.net/keys/k/not-a-version", /version/],
    ["https://myvault.vault.azure.net/keys/../keys/k", /path must be|key name|canonical/],
    ["https://myvault.vault.azure.net/keys/k%2F..", /key name/],
    ["https://myvault.vault.azure.net/keys/k\n", /whitespace/],
    ["", /non-empty/],
  ] as const)("%s", (ref, expected) => {
    if (expected === true) {
      expect(() => p.validateKeyRef(ref)).not.toThrow();
    } else {
      let err: unknown;
      try {
        p.validateKeyRef(ref);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KmsError);
      expect((err as KmsError).kind).toBe("invalid");
      expect((err as KmsError).message).toMatch(expected);
    }
  });

  it("never contacts a disallowed host", async () => {
    const e = await kmsError(p.wrap("https://evil.com/keys/x", Buffer.alloc(32), CTX));
    expect(e.kind).toBe("invalid");
  });
});

describe("emulator control endpoint and persistence", () => {
  it("validates control input", async () => {
    expect((await control("PUT", "/_emulator/faults", { error: "explode" })).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", "{not json")).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", { latencyMs: -1 })).status).toBe(400);
    expect((await control("PUT", "/_emulator/faults", { error: "throttle", operations: ["get"] })).status).toBe(200);
    expect(emu.faults.current().error).toBe("throttle");
    expect((await control("DELETE", "/_emulator/faults")).status).toBe(200);
    expect(emu.faults.current()).toEqual({});
    expect((await control("PUT", "/_emulator/access", { keyName: "x", clientId: "c" })).status).toBe(400);
    expect((await control("PUT", "/_emulator/access", { keyName: "x", clientId: "c", allowed: true })).status).toBe(200);
    expect((await control("POST", "/_emulator/principals", { tenantId: "t" })).status).toBe(400);
    expect((await control("POST", "/_emulator/principals", { tenantId: TENANT.tenantId, clientId: "c2", clientSecret: "s2" })).status).toBe(201);
    const calls = await control("GET", "/_emulator/calls");
    expect(calls.status).toBe(200);
    expect(calls.json).toHaveProperty("operations");
  });

  it("answers the first (body-less) request with a 401 challenge", async () => {
    const res = await control("POST", "/keys/anything/create?api%2Dversion=2025-07-01");
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: "Unauthorized" } });
  });

  it("reuses the CA and keeps keys across a restart with a state file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "azure-emu-state-"));
    const stateFile = join(dir, "state.json");
    let e1: AzureKeyVaultEmulator | undefined;
    let e2: AzureKeyVaultEmulator | undefined;
    try {
      e1 = await startAzureKeyVaultEmulator({ port: 0, dataDir: dir, stateFile });
      const caPem = e1.caPem;
      await tenantKeyClient(e1).createKey("persisted", "RSA");
      e1.setAccess("persisted", VENDOR.clientId, true);
      const w = await vendorProvider(e1).wrap(`${e1.vaultUrl}/keys/persisted`, Buffer.alloc(32, 7), CTX);
      await e1.close();
      e1 = undefined;
      e2 = await startAzureKeyVaultEmulator({ port: 0, dataDir: dir, stateFile });
      expect(e2.caPem).toBe(caPem);
      const dek = await vendorProvider(e2).unwrap(`${e2.vaultUrl}/keys/persisted`, w.wrapped, CTX);
      expect(dek.equals(Buffer.alloc(32, 7))).toBe(true);
    } finally {
      await e1?.close();
      await e2?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
