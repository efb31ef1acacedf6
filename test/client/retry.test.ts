// The client's retry policy as a function: what is retried, the backoff's growth and cap, its
// jitter, and Retry-After as a floor (the real-server behaviour is in client.test.ts).
import { expect, test } from "vitest";
import { BrokerApiError, BrokerConnectionError, isRetryable, KmsUnavailableError, TenantLockedError, TooManyRequestsError } from "@cmek-broker/client";
import { RETRY_DEFAULTS, retryDelayMs } from "@/packages/client/src/retry";

const unavailable = (retryAfter?: number) => new KmsUnavailableError({ status: 503, body: { code: "kms_unavailable", message: "down" }, retryAfter });
const o = { ...RETRY_DEFAULTS, maxAttempts: 10 };

test("only 502/503/504 and failed connections are retried; never a 4xx, 429 included", () => {
  expect(isRetryable(unavailable())).toBe(true);
  expect(isRetryable(new BrokerApiError({ status: 502, body: { code: "bad_gateway", message: "" } }))).toBe(true);
  expect(isRetryable(new BrokerConnectionError("refused", "r"))).toBe(true);
  expect(isRetryable(new TenantLockedError({ status: 423, body: { code: "tenant_locked", message: "" } }))).toBe(false);
  expect(isRetryable(new TooManyRequestsError({ status: 429, body: { code: "too_many_requests", message: "" }, retryAfter: 1 }))).toBe(false);
  expect(isRetryable(new BrokerApiError({ status: 500, body: { code: "internal_error", message: "" } }))).toBe(false);
  expect(retryDelayMs(o, 1, new TenantLockedError({ status: 423, body: { code: "tenant_locked", message: "" } }))).toBeNull();
});

test("exponential backoff with full jitter, capped; no delay past the last attempt", () => {
  const top = (attempt: number) => retryDelayMs(o, attempt, unavailable(), () => 0.999999)!;
  expect(top(1)).toBeCloseTo(100, 0);
  expect(top(2)).toBeCloseTo(200, 0);
  expect(top(4)).toBeCloseTo(800, 0);
  expect(top(9)).toBeCloseTo(5000, 0);
  expect(retryDelayMs(o, 3, unavailable(), () => 0)).toBe(0);
  expect(retryDelayMs(o, 3, unavailable(), () => 0.5)).toBe(200);
  expect(retryDelayMs({ ...o, maxAttempts: 3 }, 3, unavailable())).toBeNull();
});

test("Retry-After is a floor, jittered upwards by at most baseDelayMs; beyond maxRetryAfterMs it is not waited for", () => {
  expect(retryDelayMs(o, 1, unavailable(5), () => 0)).toBe(5000);
  expect(retryDelayMs(o, 1, unavailable(5), () => 0.999999)).toBeLessThan(5100);
  expect(retryDelayMs(o, 6, unavailable(1), () => 0)).toBe(1000);
  expect(retryDelayMs({ ...o, maxRetryAfterMs: 4000 }, 1, unavailable(5))).toBeNull();
});
