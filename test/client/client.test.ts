// @cmek-broker/client against a real broker (real PostgreSQL, the AWS KMS emulator through the real
// SDK): round trips, request ids, status, every typed error the data path can answer, Retry-After
// honoured on an injected KMS 503, no retry on a 4xx, time budgets and aborts.
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  AuditUnavailableError,
  type BrokerApiError,
  BrokerClient,
  BrokerConnectionError,
  BrokerTimeoutError,
  ForbiddenError,
  InvalidCiphertextError,
  InvalidRequestError,
  KmsUnavailableError,
  PayloadTooLargeError,
  ScopeDeniedError,
  TenantLockedError,
  TenantNotFoundError,
  TenantNotReadyError,
  TooManyRequestsError,
  UnauthenticatedError,
} from "@cmek-broker/client";
import { addClass } from "../support/data-classes";
import { waitFor } from "../support/wait";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
let token: string;
let otherToken: string;
const clients: BrokerClient[] = [];

function client(opts: Partial<ConstructorParameters<typeof BrokerClient>[0]> = {}, url = h.runtime.url): BrokerClient {
  const c = new BrokerClient({ baseUrl: url, tenant: "cl-acme", token, timeoutMs: 15_000, ...opts });
  clients.push(c);
  return c;
}

/** Rejects with the call's error (a resolved call fails the test). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded");
}

async function auditFor(slug: string, requestId: string) {
  const r = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?requestId=${requestId}`);
  return r.body.events as Array<{ action: string; outcome: string; reason: string | null; purpose?: string | null; at?: string; createdAt?: string }>;
}

/** A cold DEK: the next decrypt has to unwrap at the KMS. */
function coldCache() {
  h.runtime.ctx.cache.clear();
}

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_KMS_CIRCUIT_MS: "200" });
  token = await h.api.readyTenant("cl-acme", "aws", (await h.aws.createKeyForVendor()).keyArn);
  otherToken = await h.api.readyTenant("cl-other", "aws", (await h.aws.createKeyForVendor()).keyArn);
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await h?.close();
});

test("encrypt and decrypt round trip with context, purpose and the caller's request id; status", async () => {
  const c = client();
  const ct = await c.encrypt("card 4111", { context: { table: "users", id: "7" }, purpose: "client-test", requestId: "client-rt-1" });
  expect(typeof ct).toBe("string");
  expect((await c.decrypt(ct, { context: { table: "users", id: "7" } })).toString()).toBe("card 4111");
  const bytes = new Uint8Array([0, 1, 2, 255]);
  expect([...(await c.decrypt(await c.encrypt(bytes)))]).toEqual([0, 1, 2, 255]);
  // The request id reaches the audit log, with the purpose.
  const events = await auditFor("cl-acme", "client-rt-1");
  expect(events.map((e) => `${e.action}:${e.outcome}`)).toContain("encrypt:success");
  const status = await c.status();
  expect(status.state).toBe("active");
  expect(status.reason).toBeNull();
});

test("every typed error of the data path comes from the real server, with its status and request id", async () => {
  const c = client({ retry: { maxAttempts: 1 } });
  const ct = await c.encrypt("x", { context: { a: "1" } });

  const unauth = await failure(client({ token: "cmek_not-a-token" }).encrypt("x"));
  expect(unauth).toBeInstanceOf(UnauthenticatedError);
  expect((unauth as BrokerApiError).status).toBe(401);

  const forbidden = await failure(client({ token: otherToken }).decrypt(ct, { context: { a: "1" } }));
  expect(forbidden).toBeInstanceOf(ForbiddenError);
  expect((forbidden as BrokerApiError).status).toBe(403);

  const notFound = await failure(client({ tenant: "cl-nope", token: ADMIN_TOKEN }).status());
  expect(notFound).toBeInstanceOf(TenantNotFoundError);

  await h.api.createTenant("cl-pending");
  const pendingToken = await h.api.token("cl-pending");
  const notReady = await failure(client({ tenant: "cl-pending", token: pendingToken }).encrypt("x"));
  expect(notReady).toBeInstanceOf(TenantNotReadyError);
  expect((notReady as BrokerApiError).status).toBe(409);

  const bad = await failure(c.encrypt("x", { purpose: "" }));
  expect(bad).toBeInstanceOf(InvalidRequestError);
  expect((bad as InvalidRequestError).issues.map((i) => i.path)).toContain("purpose");

  const large = await failure(c.encrypt(Buffer.alloc(1024 * 1024 + 1)));
  expect(large).toBeInstanceOf(PayloadTooLargeError);
  expect((large as BrokerApiError).status).toBe(413);

  const wrongContext = await failure(c.decrypt(ct, { context: { a: "2" }, requestId: "client-wrong-ctx" }));
  expect(wrongContext).toBeInstanceOf(InvalidCiphertextError);
  expect((wrongContext as BrokerApiError).status).toBe(422);
  expect((wrongContext as BrokerApiError).requestId).toBe("client-wrong-ctx");
});

test("a token outside its scope is ScopeDeniedError naming the operation and class (per item in a batch); it is not retried", async () => {
  const created = await h.api.admin("POST", "/api/v1/tenants/cl-acme/tokens", { name: "cl-reader", operations: ["decrypt"] });
  expect(created.status).toBe(201);
  const reader = client({ token: created.body.token as string, retry: { maxAttempts: 3 } });
  const denied = await failure(reader.encrypt("x", { requestId: "client-scope" }));
  expect(denied).toBeInstanceOf(ScopeDeniedError);
  expect((denied as ScopeDeniedError).status).toBe(403);
  expect((denied as ScopeDeniedError).operation).toBe("encrypt");
  expect(await auditFor("cl-acme", "client-scope")).toEqual([expect.objectContaining({ action: "encrypt", outcome: "denied", reason: "scope_denied" })]);
  // It may decrypt.
  const ct = await client().encrypt("readable");
  expect((await reader.decrypt(ct)).toString()).toBe("readable");

  // A class outside a token's classes: in a batch, that item's ScopeDeniedError naming the class.
  await addClass(h, "cl-acme", "billing", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const scoped = await h.api.admin("POST", "/api/v1/tenants/cl-acme/tokens", { name: "cl-billing", dataClasses: ["billing"] });
  const results = await client({ token: scoped.body.token as string }).encryptBatch([{ plaintext: "invoice", dataClass: "billing" }, { plaintext: "not billing" }]);
  expect(results[0]!.ok).toBe(true);
  const item = results[1]!;
  if (item.ok) throw new Error("item 1 should be refused");
  expect(item.error).toBeInstanceOf(ScopeDeniedError);
  expect([item.error.status, item.error.index, (item.error as ScopeDeniedError).dataClass, (item.error as ScopeDeniedError).operation]).toEqual([403, 1, "default", "encrypt"]);
});

test("a lock is TenantLockedError with reason and since; it is not retried", async () => {
  await h.api.readyTenant("cl-locked", "aws", (await h.aws.createKeyForVendor()).keyArn);
  const lockedToken = await h.api.token("cl-locked");
  const c = client({ tenant: "cl-locked", token: lockedToken });
  const ct = await c.encrypt("x");
  const before = Date.now();
  expect((await h.api.admin("POST", "/api/v1/tenants/cl-locked/lock", { reason: "breach drill" })).status).toBe(200);
  const retries: number[] = [];
  const locked = await failure(client({ tenant: "cl-locked", token: lockedToken, retry: { onRetry: (i) => retries.push(i.attempt) } }).decrypt(ct, { requestId: "client-locked-1" }));
  expect(locked).toBeInstanceOf(TenantLockedError);
  const e = locked as TenantLockedError;
  expect(e.status).toBe(423);
  expect(e.reason).toContain("breach drill");
  expect(e.since).toBeInstanceOf(Date);
  expect(e.since!.getTime()).toBeGreaterThanOrEqual(before - 1000);
  expect(retries).toEqual([]);
  expect((await c.status()).state).toBe("locked");
});

test("no retry on a 4xx: one request reaches the broker", async () => {
  const retries: number[] = [];
  const c = client({ retry: { maxAttempts: 5, onRetry: (i) => retries.push(i.attempt) } });
  const ct = await c.encrypt("x", { context: { k: "v" } });
  const err = await failure(c.decrypt(ct, { context: { k: "other" }, requestId: "client-no-retry-4xx" }));
  expect(err).toBeInstanceOf(InvalidCiphertextError);
  expect(retries).toEqual([]);
  expect((await auditFor("cl-acme", "client-no-retry-4xx")).filter((e) => e.action === "decrypt")).toHaveLength(1);
});

test("KMS outage on a cold DEK: KmsUnavailableError with retryAfter; with retries, the client waits out Retry-After and succeeds", async () => {
  const ct = await client().encrypt("survives an outage");
  coldCache();
  h.emulators.aws.faults.set({ error: "server_error", operations: ["Decrypt"] });

  const once = await failure(client({ retry: { maxAttempts: 1 } }).decrypt(ct));
  expect(once).toBeInstanceOf(KmsUnavailableError);
  expect((once as KmsUnavailableError).status).toBe(503);
  expect((once as KmsUnavailableError).retryAfter).toBeGreaterThanOrEqual(1);

  const waits: Array<{ delayMs: number; retryAfter: number | undefined }> = [];
  const c = client({
    timeoutMs: 30_000,
    retry: {
      onRetry: ({ delayMs, error }) => {
        expect(error).toBeInstanceOf(KmsUnavailableError);
        waits.push({ delayMs, retryAfter: (error as KmsUnavailableError).retryAfter });
        // The KMS comes back while the client waits.
        h.emulators.aws.faults.clear();
      },
    },
  });
  const started = Date.now();
  const plain = await c.decrypt(ct, { requestId: "client-retry-after" });
  expect(plain.toString()).toBe("survives an outage");
  expect(waits).toHaveLength(1);
  const asked = waits[0]!.retryAfter!;
  expect(asked).toBeGreaterThanOrEqual(1);
  expect(waits[0]!.delayMs).toBeGreaterThanOrEqual(asked * 1000);
  expect(Date.now() - started).toBeGreaterThanOrEqual(asked * 1000);
  // The broker saw both attempts under the one request id: refused as unavailable, then served.
  const decrypts = (await auditFor("cl-acme", "client-retry-after")).filter((e) => e.action === "decrypt").map((e) => e.outcome);
  expect(decrypts.sort()).toEqual(["success", "unavailable"]);
});

test("a Retry-After longer than maxRetryAfterMs is not waited for", async () => {
  const ct = await client().encrypt("x");
  coldCache();
  h.emulators.aws.faults.set({ error: "server_error", operations: ["Decrypt"] });
  try {
    const retries: number[] = [];
    const err = await failure(client({ retry: { maxRetryAfterMs: 100, onRetry: (i) => retries.push(i.attempt) } }).decrypt(ct));
    expect(err).toBeInstanceOf(KmsUnavailableError);
    expect(retries).toEqual([]);
  } finally {
    h.emulators.aws.faults.clear();
  }
});

test("the call's time budget: BrokerTimeoutError; the caller's signal: its reason", async () => {
  const ct = await client().encrypt("x");
  coldCache();
  h.emulators.aws.faults.set({ latencyMs: 3000, operations: ["Decrypt"] });
  try {
    const timedOut = await failure(client({ timeoutMs: 300 }).decrypt(ct, { requestId: "client-timeout" }));
    expect(timedOut).toBeInstanceOf(BrokerTimeoutError);
    expect((timedOut as BrokerTimeoutError).requestId).toBe("client-timeout");
    coldCache();
    const ac = new AbortController();
    const call = client().decrypt(ct, { signal: ac.signal });
    ac.abort(new Error("caller gave up"));
    expect(((await failure(call)) as Error).message).toBe("caller gave up");
  } finally {
    h.emulators.aws.faults.clear();
  }
});

test("a refused connection is retried with backoff, then BrokerConnectionError", async () => {
  const retries: number[] = [];
  // Port 9 on loopback (discard) has no listener here: every connection is refused at once.
  const c = client({ retry: { maxAttempts: 3, baseDelayMs: 10, onRetry: (i) => retries.push(i.attempt) } }, "http://127.0.0.1:9");
  expect(await failure(c.status())).toBeInstanceOf(BrokerConnectionError);
  expect(retries).toEqual([1, 2]);
});

test("the per-tenant in-flight limit is TooManyRequestsError (a 4xx: not retried)", async () => {
  const narrow = await h.startInstance({ BROKER_TENANT_MAX_INFLIGHT: "1", BROKER_PROBE_INTERVAL_MS: "3600000" });
  const ct = await client().encrypt("x");
  narrow.ctx.cache.clear();
  h.emulators.aws.faults.set({ latencyMs: 700, operations: ["Decrypt"] });
  h.emulators.aws.calls.reset();
  try {
    const c = client({}, narrow.url);
    const slow = c.decrypt(ct);
    // The first call holds the tenant's one slot while its DEK is unwrapped at the (slow) KMS.
    await waitFor(() => h.emulators.aws.calls.count("Decrypt") > 0, { what: "the first decrypt at the KMS" });
    const err = await failure(c.decrypt(ct));
    expect(err).toBeInstanceOf(TooManyRequestsError);
    expect((err as BrokerApiError).status).toBe(429);
    expect((err as BrokerApiError).retryAfter).toBe(1);
    expect((await slow).toString()).toBe("x");
  } finally {
    h.emulators.aws.faults.clear();
  }
});

test("the audit store down is AuditUnavailableError, never plaintext", async () => {
  const c = client({ retry: { maxAttempts: 1 } });
  const ct = await c.encrypt("audited");
  const admin = new pg.Client({ connectionString: h.database.url });
  await admin.connect();
  await admin.query(`ALTER TABLE audit_event RENAME TO audit_event_away`);
  try {
    const err = await failure(c.decrypt(ct));
    expect(err).toBeInstanceOf(AuditUnavailableError);
    expect((err as BrokerApiError).status).toBe(503);
  } finally {
    await admin.query(`ALTER TABLE audit_event_away RENAME TO audit_event`);
    await admin.end();
  }
});
