// Issue 10 #9: random tokens used to add one cache entry and one database query each, without
// limit. Unknown prefixes now live in a bounded LRU, concurrent lookups of one prefix share a
// query, and each client address has a budget of lookups (then 429 with Retry-After).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ServiceTokenStore } from "@/lib/broker/service-tokens";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;
const slug = "token-misses";

beforeAll(async () => {
  h = await startHarness();
  token = await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  await h?.close();
});

const randomToken = () => `cmk_${randomBytes(32).toString("base64url")}`;

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ").pop()) : NaN;
}

describe("through the API", () => {
  test("10,000 random tokens from one address: 401 then 429 with Retry-After, database lookups limited, caches bounded, real tokens unaffected", async () => {
    const rt = await h.startInstance();
    const api = new ApiClient(rt.url);
    expect((await api.encrypt(slug, token, "warm")).status).toBe(200);
    const started = Date.now();
    const statuses = new Map<number, number>();
    let retryAfterMissing = 0;
    const TOTAL = 10_000;
    let sent = 0;
    const worker = async () => {
      while (sent < TOTAL) {
        sent++;
        const r = await fetch(`${rt.url}/api/v1/tenants/${slug}/encrypt`, {
          method: "POST",
          headers: { authorization: `Bearer ${randomToken()}`, "content-type": "application/json" },
          body: '{"plaintext":"aGVsbG8="}',
        });
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 429 && !(Number(r.headers.get("retry-after")) >= 1)) retryAfterMissing++;
      }
    };
    const load = Promise.all(Array.from({ length: 32 }, worker));
    // A service with a real token keeps working while the address next to it is refused.
    const during = await api.encrypt(slug, token, "during the flood");
    await load;
    const elapsedS = (Date.now() - started) / 1000;

    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    expect((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0)).toBe(TOTAL);
    expect(retryAfterMissing).toBe(0);
    expect(during.status).toBe(200);

    const metrics = String((await api.call("GET", "/api/metrics")).body);
    const lookups = metric(metrics, "cmek_service_token_lookups");
    // Burst of 100, then 20 per second (plus the warm-up's own lookup and some slack for timing).
    expect(lookups).toBeLessThanOrEqual(100 + 20 * (elapsedS + 1) + 5);
    expect(lookups).toBeGreaterThanOrEqual(100);
    expect(metric(metrics, "cmek_service_token_miss_cache_entries")).toBeLessThanOrEqual(lookups);
    expect((await api.encrypt(slug, token, "after the flood")).status).toBe(200);
    await rt.close();
  }, 120_000);
});

describe("the token store", () => {
  test("the unknown-prefix cache is an LRU with a cap; a remembered miss costs no query", async () => {
    const store = new ServiceTokenStore(h.runtime.db, undefined, { maxMissEntries: 200 });
    const tokens = Array.from({ length: 1_000 }, randomToken);
    for (const t of tokens) expect(await store.verify(t)).toBeNull();
    expect(store.stats.lookups).toBe(1_000);
    expect(store.missCacheSize).toBe(200);
    // The most recent misses are remembered: presenting them again costs nothing.
    for (const t of tokens.slice(-200)) expect(await store.verify(t)).toBeNull();
    expect(store.stats.lookups).toBe(1_000);
    // The oldest were forgotten.
    expect(store.needsLookup(tokens[0]!)).toBe(true);
    expect(store.needsLookup(tokens.at(-1)!)).toBe(false);
  });

  test("a token issued here is cached at issue: its first use costs no lookup (no share of the address's budget)", async () => {
    const store = new ServiceTokenStore(h.runtime.db);
    const tenantId = (await h.runtime.ctx.registry.getBySlug(slug))!.id;
    const created = await store.create(tenantId, "issued-here");
    expect(store.needsLookup(created.token)).toBe(false);
    const lookups = store.stats.lookups;
    expect((await store.verify(created.token))?.id).toBe(created.id);
    expect(store.stats.lookups).toBe(lookups);
    // Another instance's store has not seen it: its first use is a lookup there.
    expect(new ServiceTokenStore(h.runtime.db).needsLookup(created.token)).toBe(true);
  });

  test("concurrent verifications of one unknown prefix share a single query", async () => {
    const store = new ServiceTokenStore(h.runtime.db);
    const t = randomToken();
    const results = await Promise.all(Array.from({ length: 200 }, () => store.verify(t)));
    expect(results.every((r) => r === null)).toBe(true);
    expect(store.stats.lookups).toBe(1);
  });
});
