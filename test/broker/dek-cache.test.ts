import { describe, expect, test } from "vitest";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import { DekCache, TenantDroppedError } from "@/lib/broker/dek-cache";
import { waitFor } from "../support/wait";

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("DekCache", () => {
  test("1,000 concurrent misses on one DEK run the loader once", async () => {
    const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
    let loads = 0;
    const loader = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 20));
      return DataKeyMaterial.generate();
    };
    const results = await Promise.all(Array.from({ length: 1000 }, () => cache.get("t1", "d1", loader)));
    expect(loads).toBe(1);
    expect(new Set(results.map((r) => r.material)).size).toBe(1);
    expect((await cache.get("t1", "d1", loader)).hit).toBe(true);
  });

  test("a load in flight for one tenant is never joined by another tenant naming the same DEK id", async () => {
    const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
    let releaseA!: () => void;
    const gateA = new Promise<void>((r) => (releaseA = r));
    const materialA = DataKeyMaterial.generate();
    const materialB = DataKeyMaterial.generate();
    let loadsB = 0;
    const a = cache.get("tenant-a", "same-dek", async () => (await gateA, materialA));
    // Tenant B's request names the same DEK id while A's load is still running: it must make its own
    // load (and fail or succeed on its own), never receive A's key or A's failure.
    const b = cache.get("tenant-b", "same-dek", () => (loadsB++, Promise.resolve(materialB)));
    releaseA();
    const [ra, rb] = await Promise.all([a, b]);
    expect(loadsB).toBe(1);
    expect(rb.material).toBe(materialB);
    expect(ra.material).toBe(materialA);
  });

  test("a failing load of one tenant does not fail another tenant's load of the same DEK id", async () => {
    const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
    let failA!: (e: Error) => void;
    const a = cache.get("tenant-a", "dek", () => new Promise<DataKeyMaterial>((_r, reject) => (failA = reject)));
    const b = cache.get("tenant-b", "dek", () => Promise.resolve(DataKeyMaterial.generate()));
    failA(new Error("tenant A's KMS refused"));
    await expect(a).rejects.toThrow("tenant A's KMS refused");
    await expect(b).resolves.toMatchObject({ hit: false });
  });

  test("expiry after TTL reloads and zeroes the old buffer", async () => {
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: c.now });
    let loads = 0;
    const loader = () => (loads++, Promise.resolve(DataKeyMaterial.generate()));
    const first = (await cache.get("t", "d", loader)).material;
    const buf = DataKeyMaterial.unsafeBufferOf(first)!;
    c.advance(1001);
    const second = await cache.get("t", "d", loader);
    expect(second.hit).toBe(false);
    expect(loads).toBe(2);
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  test("sweep zeroes expired entries without access; LRU eviction and max uses zero too", async () => {
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 3, maxEntries: 2, now: c.now });
    const mats = [DataKeyMaterial.generate(), DataKeyMaterial.generate(), DataKeyMaterial.generate()];
    const bufs = mats.map((m) => DataKeyMaterial.unsafeBufferOf(m)!);
    cache.put("t", "a", mats[0]!);
    cache.put("t", "b", mats[1]!);
    cache.put("t", "c", mats[2]!);
    expect(bufs[0]!.every((b) => b === 0)).toBe(true);
    const loader = () => Promise.resolve(DataKeyMaterial.generate());
    for (let i = 0; i < 3; i++) expect((await cache.get("t", "b", loader)).hit).toBe(true);
    expect((await cache.get("t", "b", loader)).hit).toBe(false);
    expect(bufs[1]!.every((b) => b === 0)).toBe(true);
    c.advance(1001);
    cache.sweep();
    expect(bufs[2]!.every((b) => b === 0)).toBe(true);
    expect(cache.size).toBe(0);
  });

  test("dropTenant zeroes that tenant's DEKs only and voids an in-flight load", async () => {
    const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
    const a = DataKeyMaterial.generate();
    const b = DataKeyMaterial.generate();
    cache.put("A", "a", a);
    cache.put("B", "b", b);
    let release!: () => void;
    const slow = cache.get("A", "late", () => new Promise((r) => (release = () => r(DataKeyMaterial.generate()))));
    await new Promise((r) => setTimeout(r, 5));
    expect(cache.dropTenant("A")).toBe(1);
    expect(a.destroyed).toBe(true);
    expect(b.destroyed).toBe(false);
    release();
    await expect(slow).rejects.toBeInstanceOf(TenantDroppedError);
    expect(cache.countForTenant("A")).toBe(0);
  });

  test("dropClass zeroes that class's DEKs only and voids that class's in-flight loads; entries carry their class", async () => {
    const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
    const def = DataKeyMaterial.generate();
    const pii = DataKeyMaterial.generate();
    const billing = DataKeyMaterial.generate();
    cache.put("A", "d", def);
    cache.put("A", "p", pii, "pii-id");
    cache.put("A", "b", billing, "billing-id");
    const releases: Array<() => void> = [];
    const slow = (classId: string | null) => cache.get("A", `late-${classId}`, () => new Promise((r) => releases.push(() => r(DataKeyMaterial.generate()))), classId);
    const latePii = slow("pii-id");
    const lateDefault = slow(null);
    await waitFor(() => releases.length === 2, { what: "both loads to start" });
    expect(cache.dropClass("A", "pii-id")).toBe(1);
    expect([def.destroyed, pii.destroyed, billing.destroyed]).toEqual([false, true, false]);
    for (const r of releases) r();
    await expect(latePii).rejects.toBeInstanceOf(TenantDroppedError);
    expect((await lateDefault).classId).toBeNull();
    expect([cache.countForClass("A", "pii-id"), cache.countForClass("A", "billing-id"), cache.countForClass("A", null)]).toEqual([0, 1, 2]);
    // A hit says which class the DEK serves, also to a caller that expected another class.
    expect(await cache.get("A", "b", () => Promise.reject(new Error("no load")), "billing-id")).toMatchObject({ hit: true, classId: "billing-id" });
    expect((await cache.get("A", "b", () => Promise.reject(new Error("no load")), null)).classId).toBe("billing-id");
    expect(cache.dropClass("A", null)).toBe(2);
    expect(cache.countForTenant("A")).toBe(1);
  });

  test("refresh-ahead reloads a hot DEK in the background before expiry", async () => {
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: c.now });
    let loads = 0;
    const loader = () => (loads++, Promise.resolve(DataKeyMaterial.generate()));
    await cache.get("t", "d", loader);
    c.advance(850);
    const r = await cache.get("t", "d", loader);
    expect(r.hit).toBe(true);
    // The refresh runs in the background: wait for it rather than for a fixed time.
    await waitFor(() => loads === 2, { what: "the refresh-ahead load" });
    expect(loads).toBe(2);
    c.advance(500);
    expect((await cache.get("t", "d", loader)).hit).toBe(true);
  });

  test("a hot DEK costs one unwrap per TTL, refresh-ahead included", async () => {
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: c.now });
    let loads = 0;
    const loader = () => (loads++, Promise.resolve(DataKeyMaterial.generate()));
    let misses = 0;
    for (let t = 0; t < 10_000; t += 25) {
      if (!(await cache.get("t", "d", loader)).hit) misses++;
      await new Promise((r) => setImmediate(r));
      c.advance(25);
    }
    expect(misses).toBe(1);
    // The first load, then one refresh per TTL: refreshes at 0.8 s, 1.8 s, ... 9.8 s (the last one
    // already serves 10-11 s). With 0.8 x TTL refreshes it would have been 1 + 12.
    expect(loads).toBe(11);
  });

  test("refresh-ahead concurrency is capped per tenant", async () => {
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 100, now: c.now, maxRefreshesPerTenant: 2 });
    for (let i = 0; i < 10; i++) cache.put("t", `d${i}`, DataKeyMaterial.generate());
    c.advance(900);
    let started = 0;
    const never = () => (started++, new Promise<DataKeyMaterial>(() => {}));
    for (let i = 0; i < 10; i++) await cache.get("t", `d${i}`, never);
    expect(started).toBe(2);
  });

  test("a refresh still running when the DEK expires is joined, not doubled: one unwrap per TTL on a slow KMS", async () => {
    // The benchmark's steady case on a loaded machine: the refresh-ahead unwrap takes longer than
    // the refresh margin, so requests arrive after the old expiry while it is still in flight.
    const c = clock();
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: c.now });
    let loads = 0;
    const gates: Array<() => void> = [];
    const slowLoader = () => {
      loads++;
      return new Promise<DataKeyMaterial>((resolve) => gates.push(() => resolve(DataKeyMaterial.generate())));
    };
    const first = cache.get("t", "d", slowLoader);
    gates.shift()!();
    const old = (await first).material;
    c.advance(850);
    expect((await cache.get("t", "d", slowLoader)).hit).toBe(true);
    expect(loads).toBe(1 + 1);
    c.advance(300); // past the old expiry, the refresh still in flight
    const waiting = Array.from({ length: 100 }, () => cache.get("t", "d", slowLoader));
    expect(loads).toBe(2);
    expect(old.destroyed).toBe(true);
    gates.shift()!();
    const got = await Promise.all(waiting);
    expect(new Set(got.map((r) => r.material)).size).toBe(1);
    expect(got.every((r) => !r.hit && !r.material.destroyed)).toBe(true);
    // The refreshed entry keeps the schedule (old expiry + TTL) and serves hits until then.
    c.advance(500);
    expect((await cache.get("t", "d", slowLoader)).hit).toBe(true);
    expect(loads).toBe(2);
  });

  test("a refresh that fails is reported once and its joined requests get its error", async () => {
    const c = clock();
    const errors: unknown[] = [];
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: c.now, onRefreshError: (e) => errors.push(e) });
    cache.put("t", "d", DataKeyMaterial.generate());
    c.advance(850);
    let fail!: (e: Error) => void;
    const failing = () => new Promise<DataKeyMaterial>((_, reject) => (fail = reject));
    await cache.get("t", "d", failing);
    c.advance(300);
    const joined = cache.get("t", "d", failing);
    fail(new Error("kms down"));
    await expect(joined).rejects.toThrow("kms down");
    expect(errors).toHaveLength(1);
    expect(cache.size).toBe(0);
  });
});
