// @cmek-broker/client's batch calls, coalescer and field helpers against a real broker: per-item
// results and typed errors in order, requests split at the batch limit, concurrent single calls
// merged into one batch request with each caller getting its own item's result or error, a lock
// failing every merged call, and fields bound to their paths.
import { afterAll, beforeAll, expect, test } from "vitest";
import { BrokerClient, FIELD_CONTEXT_KEY, InvalidCiphertextError, InvalidRequestError, TenantLockedError } from "@cmek-broker/client";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;
const clients: BrokerClient[] = [];

function client(opts: Partial<ConstructorParameters<typeof BrokerClient>[0]> = {}): BrokerClient {
  const c = new BrokerClient({ baseUrl: h.runtime.url, tenant: "cb-acme", token, timeoutMs: 20_000, ...opts });
  clients.push(c);
  return c;
}

/** Settles every promise: the value or the error, in order. */
const settle = <T>(ps: Array<Promise<T>>) => Promise.all(ps.map((p) => p.then((value) => ({ value }), (error: unknown) => ({ error }))));

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  token = await h.api.readyTenant("cb-acme", "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await h?.close();
});

test("batches: one result per item in order, a bad item fails alone with its typed error", async () => {
  const c = client();
  const enc = await c.encryptBatch([
    { plaintext: "zero", context: { row: "0" } },
    { plaintext: "one", purpose: "" },
    { plaintext: new Uint8Array([2, 2]), context: { row: "2" }, purpose: "batch-test" },
  ]);
  expect(enc.map((r) => r.ok)).toEqual([true, false, true]);
  const bad = enc[1]!;
  if (bad.ok) throw new Error("item 1 should fail");
  expect(bad.error).toBeInstanceOf(InvalidRequestError);
  expect(bad.error.index).toBe(1);
  const [zero, , two] = enc.map((r) => (r.ok ? r.value : ""));

  const dec = await c.decryptBatch([
    { ciphertext: two!, context: { row: "2" } },
    { ciphertext: zero!, context: { row: "not 0" } },
    { ciphertext: zero!, context: { row: "0" } },
    { ciphertext: Buffer.from(Buffer.from(zero!, "base64").map((b, i) => (i === 40 ? b ^ 1 : b))).toString("base64"), context: { row: "0" } },
  ]);
  expect(dec.map((r) => (r.ok ? [...r.value] : r.error.constructor.name))).toEqual([[2, 2], "InvalidCiphertextError", [...Buffer.from("zero")], "InvalidCiphertextError"]);
});

test("more items than one request takes go out as several requests; results stay in order", async () => {
  const c = client();
  const n = 1001;
  const enc = await c.encryptBatch(Array.from({ length: n }, (_, i) => ({ plaintext: String(i) })), { requestId: "cb-split" });
  expect(enc.every((r) => r.ok)).toBe(true);
  const dec = await c.decryptBatch(enc.map((r) => ({ ciphertext: r.ok ? r.value : "" })));
  expect(dec.map((r) => (r.ok ? r.value.toString() : "x"))).toEqual(Array.from({ length: n }, (_, i) => String(i)));
  // Two requests, each with its own request id derived from the given one.
  const first = await h.api.admin("GET", "/api/v1/tenants/cb-acme/audit?requestId=cb-split.0&limit=1");
  const second = await h.api.admin("GET", "/api/v1/tenants/cb-acme/audit?requestId=cb-split.1&limit=1");
  expect(first.body.events).toHaveLength(1);
  expect(second.body.events).toHaveLength(1);
});

test("the coalescer merges concurrent single calls into one batch; each caller gets its own result or error", async () => {
  const c = client({ coalesce: true });
  const n = 50;
  const encrypted = await settle(Array.from({ length: n }, (_, i) => c.encrypt(`value ${i}`, { context: { i: String(i) }, purpose: i === 7 ? "" : "coalesce-test" })));
  expect(c.coalescerStats()!.encrypt).toEqual({ batches: 1, items: n });
  expect((encrypted[7] as { error: unknown }).error).toBeInstanceOf(InvalidRequestError);
  const cts = encrypted.map((r) => ("value" in r ? r.value : ""));

  // Decrypt all back, each with its own context; item 3 with another's context, item 9 with item 8's ciphertext.
  const decrypted = await settle(
    cts.map((ct, i) => {
      if (i === 7) return Promise.resolve(Buffer.from("skipped"));
      if (i === 3) return c.decrypt(ct, { context: { i: "4" } });
      if (i === 9) return c.decrypt(cts[8]!, { context: { i: "9" } });
      return c.decrypt(ct, { context: { i: String(i) } });
    }),
  );
  expect(c.coalescerStats()!.decrypt).toEqual({ batches: 1, items: n - 1 });
  decrypted.forEach((r, i) => {
    if (i === 3 || i === 9) expect((r as { error: unknown }).error, `item ${i}`).toBeInstanceOf(InvalidCiphertextError);
    else if (i !== 7) expect((r as { value: Buffer }).value.toString(), `item ${i}`).toBe(`value ${i}`);
  });
});

test("a locked tenant fails every merged call with TenantLockedError", async () => {
  const lockedToken = await h.api.readyTenant("cb-locked", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const c = client({ tenant: "cb-locked", token: lockedToken, coalesce: { maxItems: 10 } });
  const ct = await c.encrypt("x");
  expect((await h.api.admin("POST", "/api/v1/tenants/cb-locked/lock", { reason: "coalescer drill" })).status).toBe(200);
  const results = await settle(Array.from({ length: 25 }, () => c.decrypt(ct)));
  expect(c.coalescerStats()!.decrypt.batches).toBe(3);
  for (const r of results) {
    const e = (r as { error: unknown }).error;
    expect(e).toBeInstanceOf(TenantLockedError);
    expect((e as TenantLockedError).reason).toContain("coalescer drill");
  }
});

test("field helpers: selected fields encrypted, each bound to its path; a ciphertext moved to another field does not decrypt", async () => {
  const c = client();
  const user = { id: "u7", ssn: "078-05-1120", age: 41, address: { street: "1 Main St", city: "Springfield" }, cards: [{ number: "4111" }, { number: "5500" }], note: null };
  const paths = ["ssn", "age", "address.street", "cards[].number", "note", "missing.field"];
  const sealed = await c.encryptFields(user, paths, { context: { table: "users", id: user.id } });
  expect(sealed.id).toBe("u7");
  expect(sealed.address.city).toBe("Springfield");
  expect(sealed.note).toBeNull();
  for (const v of [sealed.ssn, sealed.age, sealed.address.street, sealed.cards[0]!.number, sealed.cards[1]!.number]) expect(v).toMatch(/^[A-Za-z0-9+/]+=*$/);
  expect(user.ssn).toBe("078-05-1120");
  expect(await c.decryptFields(sealed, paths, { context: { table: "users", id: user.id } })).toEqual(user);

  const swapped = { ...sealed, address: { ...sealed.address, street: sealed.ssn } };
  const err = await c.decryptFields(swapped, paths, { context: { table: "users", id: user.id } }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidCiphertextError);
  expect((err as InvalidCiphertextError).field).toBe("address.street");
  // The path is bound as an ordinary context entry: a single decrypt with it works.
  expect((await c.decrypt(sealed.ssn, { context: { table: "users", id: "u7", [FIELD_CONTEXT_KEY]: "ssn" } })).toString()).toBe(JSON.stringify("078-05-1120"));
});
