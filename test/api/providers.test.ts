// Connect -> validate -> encrypt -> decrypt for each provider, through the broker's HTTP API,
// the real SDKs and the emulators; plus the isolation and tampering guarantees.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const keyFor: Record<string, () => Promise<string>> = {
  aws: async () => (await h.aws.createKeyForVendor()).keyArn,
  azure: () => h.azure.createKeyForVendor("RSA"),
  "azure-hsm": () => h.azure.createKeyForVendor("oct-HSM"),
  gcp: () => h.gcp.createKeyForVendor(),
};

describe.each(["aws", "azure", "azure-hsm", "gcp"])("%s", (variant) => {
  const provider = variant.startsWith("azure") ? "azure" : variant;
  const slugA = `${variant}-a`;
  const slugB = `${variant}-b`;
  let tokenA: string;
  let tokenB: string;

  test("connect validates with a real round trip and activates the tenant", async () => {
    await h.api.createTenant(slugA);
    const pending = await h.api.admin("GET", `/api/v1/tenants/${slugA}`);
    expect(pending.body.tenant.state).toBe("pending");
    const keyId = await keyFor[variant]!();
    const r = await h.api.connect(slugA, provider, keyId);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.tenant.state).toBe("active");
    expect(r.body.key).toMatchObject({ provider, keyId });
    expect(r.body.validation.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`)).toEqual(["wrap:true", "unwrap:true", "compare:true"]);
    tokenA = await h.api.token(slugA);
    tokenB = await h.api.readyTenant(slugB, provider, await keyFor[variant]!());
  });

  test("encrypt then decrypt returns the plaintext; context must match; tampering fails", async () => {
    const ctx = { table: "invoices", row: "7" };
    const enc = await h.api.encrypt(slugA, tokenA, "hello tenant", ctx, "test");
    expect(enc.status, JSON.stringify(enc.body)).toBe(200);
    const dec = await h.api.decrypt(slugA, tokenA, enc.body.ciphertext, ctx);
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("hello tenant");

    const wrongCtx = await h.api.decrypt(slugA, tokenA, enc.body.ciphertext, { table: "invoices", row: "8" });
    expect(wrongCtx.status).toBe(422);
    expect(wrongCtx.body.error.code).toBe("invalid_ciphertext");

    const raw = Buffer.from(enc.body.ciphertext, "base64");
    raw[raw.length - 5]! ^= 0x01;
    const flipped = await h.api.decrypt(slugA, tokenA, raw.toString("base64"), ctx);
    expect(flipped.status).toBe(422);
    expect(flipped.body.error.code).toBe("invalid_ciphertext");
  });

  test("a token of tenant B on tenant A is 403; A's ciphertext submitted as B is 422", async () => {
    const enc = await h.api.encrypt(slugA, tokenA, "secret of A");
    const cross = await h.api.encrypt(slugA, tokenB, "x");
    expect(cross.status).toBe(403);
    expect(cross.body.error.code).toBe("forbidden");
    const crossDec = await h.api.decrypt(slugA, tokenB, enc.body.ciphertext);
    expect(crossDec.status).toBe(403);
    const asB = await h.api.decrypt(slugB, tokenB, enc.body.ciphertext);
    expect(asB.status).toBe(422);
    expect(asB.body.error.code).toBe("invalid_ciphertext");
  });
});

describe("key validation failures name what failed", () => {
  test("AWS key without a grant: 422 grant_invalid at wrap, access denied", async () => {
    await h.api.createTenant("nogrant");
    const keyArn = await h.aws.createKey();
    const r = await h.api.connect("nogrant", "aws", keyArn);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("grant_invalid");
    expect(r.body.error.step).toBe("wrap");
    expect(r.body.error.reason).toBe("access_denied");
    expect(r.body.error.message).toMatch(/not allowed to use this key/);
    const t = await h.api.admin("GET", "/api/v1/tenants/nogrant");
    expect(t.body.tenant.state).toBe("pending");
  });

  test("malformed key references are 400 and never reach a KMS", async () => {
    await h.api.createTenant("badref");
    const before = h.emulators.aws.calls.snapshot();
    for (const [provider, keyId] of [
      ["aws", "arn:aws:kms:us-east-1:12345:key/nope"],
      ["azure", "https://evil.example.com/keys/k"],
      ["gcp", "projects/p/locations/l/keyRings/r"],
    ]) {
      const r = await h.api.connect("badref", provider!, keyId!);
      expect(r.status, `${provider} ${keyId}`).toBe(400);
      expect(r.body.error.code).toBe("invalid_key_ref");
    }
    expect(h.emulators.aws.calls.snapshot()).toEqual(before);
  });
});
