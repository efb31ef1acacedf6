// GCP provider + emulator, driven through the real @google-cloud/kms client over loopback gRPC.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { grpc } from "google-gax";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { GCP_EMULATOR_DEMO_TENANT, GCP_EMULATOR_VENDOR, startGcpKmsEmulator, type GcpKmsEmulator } from "../../emulators/gcp/server";
import { crc32c } from "../../lib/kms/crc32c";
import { canonicalContext, classifyGcpError, GcpKmsProvider } from "../../lib/kms/gcp";
import { KmsError } from "../../lib/kms/types";
import { waitFor } from "../support/wait";

const PROJECT = "demo-tenant-project";
const RING = `projects/${PROJECT}/locations/us-east1/keyRings/cmek`;
const CTX = { tenant: "tenant-1", dek: "dek-7" };
const asTenant = { otherArgs: { headers: { authorization: `Bearer ${GCP_EMULATOR_DEMO_TENANT.token}` } } };

let emu: GcpKmsEmulator;
let tenant: KeyManagementServiceClient;
let vendor: GcpKmsProvider;
const extraProviders: GcpKmsProvider[] = [];

function sdkClient(port: number): KeyManagementServiceClient {
  return new KeyManagementServiceClient({ apiEndpoint: "127.0.0.1", port, sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" });
}

function provider(cfg: { token?: string; timeoutMs?: number; maxRetries?: number; port?: number } = {}): GcpKmsProvider {
  const p = new GcpKmsProvider({
    apiEndpoint: "127.0.0.1",
    port: cfg.port ?? emu.grpcPort,
    insecureToken: cfg.token ?? GCP_EMULATOR_VENDOR.token,
    ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    ...(cfg.maxRetries !== undefined ? { maxRetries: cfg.maxRetries } : {}),
  });
  extraProviders.push(p);
  return p;
}

async function setBindings(resource: string, bindings: Array<{ role: string; members: string[] }>): Promise<void> {
  const [current] = await getIam(tenant, resource);
  await setIam(tenant, resource, { bindings, etag: current.etag });
}

const grantVendor = (resource: string, role = "roles/cloudkms.cryptoKeyEncrypterDecrypter") =>
  setBindings(resource, [{ role, members: [GCP_EMULATOR_VENDOR.member] }]);

// The IAM mixin is typed with protobufjs message classes rather than plain interfaces.
type GetIamReq = Parameters<KeyManagementServiceClient["getIamPolicy"]>[0];
type SetIamReq = Parameters<KeyManagementServiceClient["setIamPolicy"]>[0];
const getIam = (c: KeyManagementServiceClient, resource: string, o = asTenant) => c.getIamPolicy({ resource } as GetIamReq, o);
const setIam = (c: KeyManagementServiceClient, resource: string, policy: { bindings: Array<{ role: string; members: string[] }>; etag?: Uint8Array | null }, o = asTenant) =>
  c.setIamPolicy({ resource, policy } as SetIamReq, o);

let keySeq = 0;
/** A fresh crypto key in the tenant's ring with the vendor granted encrypter/decrypter on it. */
async function newKey(opts: { destroyScheduledSeconds?: number; grant?: boolean } = {}): Promise<string> {
  const [key] = await tenant.createCryptoKey(
    {
      parent: RING,
      cryptoKeyId: `k${++keySeq}`,
      cryptoKey: {
        purpose: "ENCRYPT_DECRYPT",
        ...(opts.destroyScheduledSeconds !== undefined ? { destroyScheduledDuration: { seconds: opts.destroyScheduledSeconds } } : {}),
      },
    },
    asTenant,
  );
  if (opts.grant !== false) await grantVendor(key.name!);
  return key.name!;
}

async function setState(keyName: string, version: number, state: "ENABLED" | "DISABLED"): Promise<void> {
  await tenant.updateCryptoKeyVersion(
    { cryptoKeyVersion: { name: `${keyName}/cryptoKeyVersions/${version}`, state }, updateMask: { paths: ["state"] } },
    asTenant,
  );
}

async function expectKmsError(p: Promise<unknown>, kind: KmsError["kind"], reason?: string): Promise<KmsError> {
  const e = await p.then(
    () => {
      throw new Error("expected a KmsError, got success");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KmsError);
  const k = e as KmsError;
  expect({ kind: k.kind, reason: k.reason }).toEqual({ kind, reason });
  return k;
}

const dek = () => Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff));

beforeAll(async () => {
  emu = await startGcpKmsEmulator({ port: 0, controlPort: 0 });
  tenant = sdkClient(emu.grpcPort);
  await tenant.createKeyRing({ parent: `projects/${PROJECT}/locations/us-east1`, keyRingId: "cmek" }, asTenant);
  vendor = provider();
});

afterEach(() => {
  emu.faults.clear();
});

afterAll(async () => {
  await Promise.all(extraProviders.map((p) => p.close()));
  await tenant?.close();
  await emu?.close();
});

describe("crc32c", () => {
  test.each([
    ["123456789", 0xe3069283],
    ["", 0],
    ["a", 0xc1d04330],
  ])("%j", (input, want) => {
    expect(crc32c(Buffer.from(input))).toBe(want);
  });

  test("RFC 3720 B.4 vectors", () => {
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });
});

describe("validateKeyRef", () => {
  const p = new GcpKmsProvider({ insecureToken: "x", port: 1 });
  afterAll(() => p.close());
  const ok = "projects/my-project-1/locations/us-east1/keyRings/ring_1/cryptoKeys/key-A";
  test.each([
    [ok, true],
    ["projects/abcdef/locations/global/keyRings/r/cryptoKeys/k", true],
    [`projects/a${"b".repeat(29)}/locations/europe-west4/keyRings/${"r".repeat(63)}/cryptoKeys/${"k".repeat(63)}`, true],
    [`${ok}/cryptoKeyVersions/1`, false],
    [`${ok}/extra`, false],
    [`/${ok}`, false],
    [`${ok}/`, false],
    [` ${ok}`, false],
    [`${ok}\n`, false],
    ["projects/my-project-1/locations/us-east1/keyRings/ring_1/cryptoKeys/key A", false],
    ["projects/abcde/locations/global/keyRings/r/cryptoKeys/k", false], // project too short
    [`projects/a${"b".repeat(30)}/locations/global/keyRings/r/cryptoKeys/k`, false], // project too long
    ["projects/1project/locations/global/keyRings/r/cryptoKeys/k", false],
    ["projects/My-Project/locations/global/keyRings/r/cryptoKeys/k", false],
    ["projects/my-project-/locations/global/keyRings/r/cryptoKeys/k", false],
    ["projects/my-project/locations/US/keyRings/r/cryptoKeys/k", false],
    ["projects/my-project/locations/global/keyRings//cryptoKeys/k", false],
    [`projects/my-project/locations/global/keyRings/${"r".repeat(64)}/cryptoKeys/k`, false],
    ["projects/my-project/locations/global/keyRings/r.1/cryptoKeys/k", false],
    ["projects/my-project/locations/global/keyrings/r/cryptoKeys/k", false],
    ["projects/my-project/locations/global/keyRings/r/cryptoKeys/k?x=1", false],
    ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", false],
    ["", false],
  ])("%j → %s", (ref, valid) => {
    if (valid) expect(() => p.validateKeyRef(ref)).not.toThrow();
    else {
      let err: unknown;
      try {
        p.validateKeyRef(ref);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KmsError);
      expect((err as KmsError).kind).toBe("invalid");
    }
  });

  test("a version reference is rejected with a reason", () => {
    expect(() => p.validateKeyRef(`${ok}/cryptoKeyVersions/3`)).toThrow(/CryptoKeyVersion/);
  });
});

describe("wrap / unwrap", () => {
  let key: string;
  beforeAll(async () => {
    key = await newKey();
  });

  test("round trip binds the context; key order does not matter", async () => {
    const w = await vendor.wrap(key, dek(), CTX);
    expect(w.keyVersion).toBe("1");
    expect(w.wrapped.equals(dek())).toBe(false);
    expect(await vendor.unwrap(key, w.wrapped, { dek: CTX.dek, tenant: CTX.tenant })).toEqual(dek());
    expect(canonicalContext({ b: "2", a: "1" }).toString()).toBe('{"a":"1","b":"2"}');
  });

  test("wrong context, flipped byte, truncation and another key's ciphertext are invalid", async () => {
    const w = await vendor.wrap(key, dek(), CTX);
    await expectKmsError(vendor.unwrap(key, w.wrapped, { ...CTX, tenant: "tenant-2" }), "invalid");
    await expectKmsError(vendor.unwrap(key, w.wrapped, { tenant: CTX.tenant }), "invalid");
    for (const i of [0, 3, 10, w.wrapped.length - 1]) {
      const bad = Buffer.from(w.wrapped);
      bad[i]! ^= 0x01;
      await expectKmsError(vendor.unwrap(key, bad, CTX), "invalid");
    }
    await expectKmsError(vendor.unwrap(key, w.wrapped.subarray(0, 20), CTX), "invalid");
    const other = await newKey();
    await expectKmsError(vendor.unwrap(other, w.wrapped, CTX), "invalid");
  });

  test("DEK size limits are enforced before calling KMS", async () => {
    await expectKmsError(vendor.wrap(key, Buffer.alloc(0), CTX), "invalid");
    await expectKmsError(vendor.wrap(key, Buffer.alloc(65), CTX), "invalid");
    await expectKmsError(vendor.wrap(`${key}/cryptoKeyVersions/1`, dek(), CTX), "invalid");
  });

  test("describe: encrypterDecrypter alone lacks cryptoKeys.get (real IAM), viewer role allows it", async () => {
    const e = await expectKmsError(vendor.describe(key), "revoked", "access_denied");
    expect(e.message).toContain("cloudkms.cryptoKeys.get");
    await setBindings(key, [
      { role: "roles/cloudkms.cryptoKeyEncrypterDecrypter", members: [GCP_EMULATOR_VENDOR.member] },
      { role: "roles/cloudkms.viewer", members: [GCP_EMULATOR_VENDOR.member] },
    ]);
    expect(await vendor.describe(key)).toEqual({ enabled: true, state: "ENABLED", currentVersion: "1" });
  });

  test("a key-ring-level binding is inherited by its keys", async () => {
    const [ring] = await tenant.createKeyRing({ parent: `projects/${PROJECT}/locations/us-east1`, keyRingId: "ring-grant" }, asTenant);
    const [k] = await tenant.createCryptoKey({ parent: ring.name!, cryptoKeyId: "k", cryptoKey: { purpose: "ENCRYPT_DECRYPT" } }, asTenant);
    await expectKmsError(vendor.wrap(k.name!, dek(), CTX), "revoked", "access_denied");
    await grantVendor(ring.name!);
    const w = await vendor.wrap(k.name!, dek(), CTX);
    expect(await vendor.unwrap(k.name!, w.wrapped, CTX)).toEqual(dek());
  });

  test("rotation: new primary wraps with version 2, old ciphertexts still unwrap", async () => {
    const k = await newKey();
    const w1 = await vendor.wrap(k, dek(), CTX);
    const [v2] = await tenant.createCryptoKeyVersion({ parent: k, cryptoKeyVersion: {} }, asTenant);
    await tenant.updateCryptoKeyPrimaryVersion({ name: k, cryptoKeyVersionId: "2" }, asTenant);
    expect(v2.name).toBe(`${k}/cryptoKeyVersions/2`);
    const w2 = await vendor.wrap(k, dek(), CTX);
    expect(w2.keyVersion).toBe("2");
    expect(await vendor.unwrap(k, w1.wrapped, CTX)).toEqual(dek());
    // Disabling the old version only locks data wrapped under it.
    await setState(k, 1, "DISABLED");
    await expectKmsError(vendor.unwrap(k, w1.wrapped, CTX), "revoked", "disabled");
    expect(await vendor.unwrap(k, w2.wrapped, CTX)).toEqual(dek());
  });
});

describe("revocation", () => {
  test("disable → revoked/disabled on wrap and unwrap; re-enable restores", async () => {
    const key = await newKey();
    const w = await vendor.wrap(key, dek(), CTX);
    await setState(key, 1, "DISABLED");
    const e = await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "disabled");
    expect(e.detail.providerCode).toBe("9:DISABLED");
    await expectKmsError(vendor.wrap(key, dek(), CTX), "revoked", "disabled");
    const owner = provider({ token: GCP_EMULATOR_DEMO_TENANT.token });
    expect(await owner.describe(key)).toEqual({ enabled: false, state: "DISABLED", currentVersion: "1" });
    await setState(key, 1, "ENABLED");
    expect(await vendor.unwrap(key, w.wrapped, CTX)).toEqual(dek());
  });

  test("the SDK surfaces the PreconditionFailure detail for a disabled version", async () => {
    const key = await newKey();
    const w = await vendor.wrap(key, dek(), CTX);
    await setState(key, 1, "DISABLED");
    const err = (await tenant
      .decrypt({ name: key, ciphertext: w.wrapped, additionalAuthenticatedData: canonicalContext(CTX) }, asTenant)
      .catch((e: unknown) => e)) as { code: number; details: string; statusDetails: Array<{ violations: Array<{ type: string; subject: string }> }> };
    expect(err.code).toBe(9);
    expect(err.details).toBe(`${key}/cryptoKeyVersions/1 is not enabled, current state is: DISABLED.`);
    expect(err.statusDetails[0]!.violations[0]).toMatchObject({ type: "KEY_DISABLED", subject: `${key}/cryptoKeyVersions/1` });
  });

  test("destroy → revoked/pending_deletion; restore → disabled; enable restores", async () => {
    const key = await newKey();
    const w = await vendor.wrap(key, dek(), CTX);
    const [v] = await tenant.destroyCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }, asTenant);
    expect(v.state).toBe("DESTROY_SCHEDULED");
    expect(Number(v.destroyTime!.seconds)).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);
    const e = await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "pending_deletion");
    expect(e.detail.providerCode).toBe("9:DESTROY_SCHEDULED");
    const [restored] = await tenant.restoreCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }, asTenant);
    expect(restored.state).toBe("DISABLED");
    await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "disabled");
    await setState(key, 1, "ENABLED");
    expect(await vendor.unwrap(key, w.wrapped, CTX)).toEqual(dek());
  });

  test("scheduled destruction elapses → revoked/destroyed (emulator allows a 1 s schedule)", async () => {
    const key = await newKey({ destroyScheduledSeconds: 1 });
    const w = await vendor.wrap(key, dek(), CTX);
    await tenant.destroyCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }, asTenant);
    // Waiting out the 1 s schedule is the point: the destruction happens by time alone.
    await new Promise((r) => setTimeout(r, 1100));
    const e = await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "destroyed");
    expect(e.detail.providerCode).toBe("9:DESTROYED");
    const [v] = await tenant.getCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }, asTenant);
    expect(v.state).toBe("DESTROYED");
    await expect(tenant.restoreCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }, asTenant)).rejects.toMatchObject({ code: 9 });
  });

  test("removing the IAM binding → revoked/access_denied; re-granting restores", async () => {
    const key = await newKey();
    const w = await vendor.wrap(key, dek(), CTX);
    await setBindings(key, []);
    const e = await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "access_denied");
    expect(e.message).toContain(`Permission 'cloudkms.cryptoKeyVersions.useToDecrypt' denied on resource '${key}' (or it may not exist).`);
    await expectKmsError(vendor.wrap(key, dek(), CTX), "revoked", "access_denied");
    await grantVendor(key);
    expect(await vendor.unwrap(key, w.wrapped, CTX)).toEqual(dek());
  });

  test("encrypter-only or admin roles do not allow decrypt", async () => {
    const key = await newKey({ grant: false });
    await grantVendor(key, "roles/cloudkms.cryptoKeyEncrypter");
    const w = await vendor.wrap(key, dek(), CTX);
    await expectKmsError(vendor.unwrap(key, w.wrapped, CTX), "revoked", "access_denied");
    await grantVendor(key, "roles/cloudkms.admin");
    await expectKmsError(vendor.wrap(key, dek(), CTX), "revoked", "access_denied");
  });

  test("unknown key: access_denied for the vendor (no permission, as real KMS hides existence), not_found for the owner", async () => {
    const missing = `${RING}/cryptoKeys/does-not-exist`;
    await expectKmsError(vendor.wrap(missing, dek(), CTX), "revoked", "access_denied");
    const owner = provider({ token: GCP_EMULATOR_DEMO_TENANT.token });
    const e = await expectKmsError(owner.wrap(missing, dek(), CTX), "revoked", "not_found");
    expect(e.message).toContain(`CryptoKey ${missing} not found.`);
  });
});

describe("faults and transport failures → unavailable", () => {
  let key: string;
  let wrapped: Buffer;
  beforeAll(async () => {
    key = await newKey();
    wrapped = (await vendor.wrap(key, dek(), CTX)).wrapped;
  });

  test("latency past the deadline", async () => {
    emu.faults.set({ latencyMs: 1500, operations: ["Decrypt"] });
    const p = provider({ timeoutMs: 300, maxRetries: 0 });
    const t0 = Date.now();
    const e = await expectKmsError(p.unwrap(key, wrapped, CTX), "unavailable");
    expect(e.detail.providerCode).toBe("4");
    expect(Date.now() - t0).toBeLessThan(1200);
  });

  test("server_error (UNAVAILABLE or INTERNAL)", async () => {
    emu.faults.set({ error: "server_error" });
    for (let i = 0; i < 4; i++) {
      const e = await expectKmsError(vendor.unwrap(key, wrapped, CTX), "unavailable");
      expect(["4", "13", "14"]).toContain(e.detail.providerCode);
    }
  });

  test("throttle (RESOURCE_EXHAUSTED, not retried by the client)", async () => {
    emu.faults.set({ error: "throttle", operations: ["Encrypt"] });
    emu.calls.reset();
    const e = await expectKmsError(vendor.wrap(key, dek(), CTX), "unavailable");
    expect(e.detail.providerCode).toBe("8");
    expect(emu.calls.count("Encrypt", key)).toBe(1);
  });

  test("reset drops the connection; the client reconnects afterwards", async () => {
    emu.faults.set({ error: "reset" });
    emu.calls.reset();
    const e = await expectKmsError(vendor.unwrap(key, wrapped, CTX), "unavailable");
    // The TCP connection really went away (not the emulator's "Connection reset" status fallback).
    expect(e.message).toContain("Connection dropped");
    // maxRetries 1 → exactly two attempts reached the emulator.
    expect(emu.calls.count("Decrypt", key)).toBe(2);
    emu.faults.clear();
    expect(await vendor.unwrap(key, wrapped, CTX)).toEqual(dek());
  });

  test("blackhole returns within a bound with default settings (600 s default retry is overridden)", async () => {
    emu.faults.set({ error: "blackhole" });
    const p = provider();
    const t0 = Date.now();
    const e = await expectKmsError(p.unwrap(key, wrapped, CTX), "unavailable");
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(6000);
    expect(e.detail.providerCode).toBe("4");
  });

  test("nothing listening → unavailable quickly", async () => {
    const p = provider({ port: 1, timeoutMs: 500 });
    await expectKmsError(p.wrap(key, dek(), CTX), "unavailable");
  });

  test("unknown vendor token → UNAUTHENTICATED → unavailable (never locks)", async () => {
    const p = provider({ token: "not-a-known-token" });
    const e = await expectKmsError(p.unwrap(key, wrapped, CTX), "unavailable");
    expect(e.detail.providerCode).toBe("16");
  });
});

describe("crc32c integrity", () => {
  let key: string;
  beforeAll(async () => {
    key = await newKey();
  });

  test("emulator verifies supplied checksums and sets verified flags only when supplied", async () => {
    const pt = Buffer.from("hello");
    const [plain] = await tenant.encrypt({ name: key, plaintext: pt }, asTenant);
    expect(plain.verifiedPlaintextCrc32c).toBe(false);
    expect(Number(plain.ciphertextCrc32c!.value)).toBe(crc32c(plain.ciphertext as Uint8Array));
    const [checked] = await tenant.encrypt({ name: key, plaintext: pt, plaintextCrc32c: { value: crc32c(pt) } }, asTenant);
    expect(checked.verifiedPlaintextCrc32c).toBe(true);
    const err = await tenant.encrypt({ name: key, plaintext: pt, plaintextCrc32c: { value: 1 } }, asTenant).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 3, details: "The checksum in field plaintext_crc32c did not match the data in field plaintext." });
    expect(classifyGcpError(err)).toMatchObject({ kind: "unavailable", detail: { providerCode: "crc32c_mismatch" } });
  });

  test("provider rejects responses whose checksums or names do not match", async () => {
    const p = provider();
    const client = (p as unknown as { client: KeyManagementServiceClient }).client;
    const good = await p.wrap(key, dek(), CTX);
    const encryptResponse = {
      name: `${key}/cryptoKeyVersions/1`,
      ciphertext: good.wrapped,
      ciphertextCrc32c: { value: String(crc32c(good.wrapped)) },
      verifiedPlaintextCrc32c: true,
      verifiedAdditionalAuthenticatedDataCrc32c: true,
    };
    const spyEnc = vi.spyOn(client, "encrypt");
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ciphertextCrc32c: { value: "1" } }, "crc32c_mismatch"],
      [{ verifiedPlaintextCrc32c: false }, "crc32c_mismatch"],
      [{ verifiedAdditionalAuthenticatedDataCrc32c: false }, "crc32c_mismatch"],
      [{ name: `${RING}/cryptoKeys/other/cryptoKeyVersions/1` }, "name_mismatch"],
    ];
    for (const [patch, code] of cases) {
      spyEnc.mockImplementationOnce((() => Promise.resolve([{ ...encryptResponse, ...patch }])) as never);
      const e = await expectKmsError(p.wrap(key, dek(), CTX), "unavailable");
      expect(e.detail.providerCode).toBe(code);
    }
    const spyDec = vi.spyOn(client, "decrypt");
    spyDec.mockImplementationOnce((() => Promise.resolve([{ plaintext: dek(), plaintextCrc32c: { value: "7" } }])) as never);
    const e = await expectKmsError(p.unwrap(key, good.wrapped, CTX), "unavailable");
    expect(e.detail.providerCode).toBe("crc32c_mismatch");
    spyEnc.mockRestore();
    spyDec.mockRestore();
  });
});

describe("classification table", () => {
  type Row = [unknown, KmsError["kind"], string | undefined, string];
  test.each<Row>([
    [{ code: 9, details: "x is not enabled, current state is: DISABLED." }, "revoked", "disabled", "9:DISABLED"],
    [{ code: 9, details: "x is not enabled, current state is: DESTROY_SCHEDULED." }, "revoked", "pending_deletion", "9:DESTROY_SCHEDULED"],
    [{ code: 9, details: "x is not enabled, current state is: DESTROYED." }, "revoked", "destroyed", "9:DESTROYED"],
    [{ code: 9, details: "something else" }, "revoked", "disabled", "9"],
    [{ code: 7, details: "denied" }, "revoked", "access_denied", "7"],
    [{ code: 5, details: "missing" }, "revoked", "not_found", "5"],
    [{ code: 3, details: "Decryption failed: the ciphertext is invalid." }, "invalid", undefined, "3"],
    ...[14, 4, 8, 13, 1, 2, 16, 12].map((c): Row => [{ code: c, details: "x" }, "unavailable", undefined, String(c)]),
    [Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "unavailable", undefined, "ECONNREFUSED"],
    ["weird", "unavailable", undefined, "unknown"],
  ])("%j → %s/%s", (err, kind, reason, providerCode) => {
    const k = classifyGcpError(err);
    expect({ kind: k.kind, reason: k.reason, providerCode: k.detail.providerCode }).toEqual({ kind, reason, providerCode });
  });
});

describe("emulator control plane and IAM", () => {
  test("faults and calls over HTTP; bad input → 400", async () => {
    const put = (body: unknown) =>
      fetch(`${emu.controlUrl}/_emulator/faults`, { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    expect((await put({ error: "explode" })).status).toBe(400);
    expect((await put({ errorRate: 2, error: "throttle" })).status).toBe(400);
    expect((await put({ latencyMs: "slow" })).status).toBe(400);
    expect((await put({ bogus: 1 })).status).toBe(400);
    expect((await fetch(`${emu.controlUrl}/_emulator/faults`, { method: "PUT", body: "{not json" })).status).toBe(400);
    const ok = await put({ error: "throttle", operations: ["GetCryptoKey"] });
    expect(ok.status).toBe(200);
    expect(emu.faults.current()).toMatchObject({ error: "throttle", operations: ["GetCryptoKey"] });
    expect((await fetch(`${emu.controlUrl}/_emulator/faults`, { method: "DELETE" })).status).toBe(200);
    expect(emu.faults.current()).toEqual({});

    expect((await fetch(`${emu.controlUrl}/_emulator/calls`, { method: "DELETE" })).status).toBe(200);
    const key = await newKey();
    await vendor.wrap(key, dek(), CTX);
    const calls = (await (await fetch(`${emu.controlUrl}/_emulator/calls`)).json()) as { operations: Record<string, number>; byKey: Record<string, number> };
    expect(calls.operations.Encrypt).toBe(1);
    expect(calls.byKey[`Encrypt ${key}`]).toBe(1);
    expect((await fetch(`${emu.controlUrl}/_emulator/nope`)).status).toBe(404);
  });

  test("principals added over HTTP can authenticate; invalid ones → 400", async () => {
    const post = (body: unknown) => fetch(`${emu.controlUrl}/_emulator/principals`, { method: "POST", body: JSON.stringify(body) });
    expect((await post({ token: "short", member: "user:a@b.example" })).status).toBe(400);
    expect((await post({ token: "other-tenant-token", member: "nobody" })).status).toBe(400);
    expect((await post({ token: "other-tenant-token", member: "user:a@b.example", ownerOfProjects: ["X"] })).status).toBe(400);
    expect((await post({ token: "other-tenant-token", member: "user:admin@other.example", ownerOfProjects: ["other-tenant"] })).status).toBe(201);
    const other = provider({ token: "other-tenant-token" });
    // Owner of another project has no rights in demo-tenant-project.
    const key = await newKey();
    await expectKmsError(other.wrap(key, dek(), CTX), "revoked", "access_denied");
    // But is the owner (NOT_FOUND, not PERMISSION_DENIED) in its own project.
    await expectKmsError(other.wrap("projects/other-tenant/locations/global/keyRings/r/cryptoKeys/k", dek(), CTX), "revoked", "not_found");
  });

  test("setIamPolicy with a stale etag → ABORTED; vendor cannot set policy", async () => {
    const key = await newKey();
    const [before] = await getIam(tenant, key);
    await setIam(tenant, key, { bindings: [], etag: before.etag });
    await expect(setIam(tenant, key, { bindings: [], etag: before.etag })).rejects.toMatchObject({ code: 10 });
    const vendorClient = sdkClient(emu.grpcPort);
    const asVendor = { otherArgs: { headers: { authorization: `Bearer ${GCP_EMULATOR_VENDOR.token}` } } };
    await expect(setIam(vendorClient, key, { bindings: [] }, asVendor)).rejects.toMatchObject({ code: 7 });
    await expect(vendorClient.getCryptoKey({ name: key }, { ...asVendor, retry: { retryCodes: [] } } as never)).rejects.toMatchObject({ code: 7 });
    await vendorClient.close();
  });

  test("close() force-shuts black-holed and delayed calls", async () => {
    const e2 = await startGcpKmsEmulator({ port: 0, controlPort: 0 });
    const p2 = provider({ port: e2.grpcPort, timeoutMs: 20_000, maxRetries: 0 });
    e2.faults.set({ error: "blackhole", operations: ["Encrypt"] });
    const pending = p2.wrap(`${RING}/cryptoKeys/any`, dek(), CTX).catch((e: unknown) => e);
    // Faults are decided when a call arrives, so let the first one land before replacing the config.
    await waitFor(() => e2.calls.count("Encrypt") === 1, { what: "the blackholed Encrypt to reach the emulator" });
    e2.faults.set({ latencyMs: 60_000, operations: ["Decrypt"] });
    const delayed = p2.unwrap(`${RING}/cryptoKeys/any`, Buffer.alloc(40, 1), CTX).catch((e: unknown) => e);
    await waitFor(() => e2.calls.count("Decrypt") === 1, { what: "the delayed Decrypt to reach the emulator" });
    const t0 = Date.now();
    await e2.close();
    expect(await pending).toMatchObject({ kind: "unavailable" });
    expect(await delayed).toMatchObject({ kind: "unavailable" });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("missing authorization → UNAUTHENTICATED", async () => {
    await expect(tenant.getKeyRing({ name: RING })).rejects.toMatchObject({ code: 16 });
  });

  test("stateFile persists keys, versions and policies across restarts", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gcp-kms-emu-"));
    const stateFile = path.join(dir, "state.json");
    try {
      let e2 = await startGcpKmsEmulator({ port: 0, controlPort: 0, stateFile });
      let c2 = sdkClient(e2.grpcPort);
      await c2.createKeyRing({ parent: `projects/${PROJECT}/locations/global`, keyRingId: "persist" }, asTenant);
      const [k] = await c2.createCryptoKey(
        { parent: `projects/${PROJECT}/locations/global/keyRings/persist`, cryptoKeyId: "k", cryptoKey: { purpose: "ENCRYPT_DECRYPT" } },
        asTenant,
      );
      await setIam(c2, k.name!, { bindings: [{ role: "roles/cloudkms.cryptoKeyEncrypterDecrypter", members: [GCP_EMULATOR_VENDOR.member] }] });
      const p2 = provider({ port: e2.grpcPort });
      const w = await p2.wrap(k.name!, dek(), CTX);
      await c2.close();
      await e2.close();

      e2 = await startGcpKmsEmulator({ port: 0, controlPort: 0, stateFile });
      c2 = sdkClient(e2.grpcPort);
      const p3 = provider({ port: e2.grpcPort });
      expect(await p3.unwrap(k.name!, w.wrapped, CTX)).toEqual(dek());
      await c2.close();
      await e2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
