// Retry policy: only what may succeed on its own (a 502/503/504, a failed connection), never a
// 4xx; exponential backoff with full jitter, and never sooner than the broker's Retry-After.
import { setTimeout as sleep } from "node:timers/promises";
import { BrokerApiError, BrokerConnectionError } from "./errors.js";

export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 turns retries off). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 100), doubled per attempt. */
  baseDelayMs?: number;
  /** Backoff ceiling in ms (default 5,000). */
  maxDelayMs?: number;
  /** A Retry-After longer than this (ms) is not waited for: the error is thrown at once (default 30,000). */
  maxRetryAfterMs?: number;
  /** Called before each wait (for logs and metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown; requestId: string }) => void;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

export function isRetryable(err: unknown): boolean {
  if (err instanceof BrokerConnectionError) return true;
  return err instanceof BrokerApiError && RETRYABLE_STATUS.has(err.status);
}

/** The wait before attempt `attempt + 1`, or null when the error must not be retried. */
export function retryDelayMs(o: Required<Omit<RetryOptions, "onRetry">>, attempt: number, err: unknown, random = Math.random): number | null {
  if (attempt >= o.maxAttempts || !isRetryable(err)) return null;
  const backoff = random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
  const retryAfter = err instanceof BrokerApiError ? err.retryAfter : undefined;
  if (retryAfter === undefined) return backoff;
  const ms = retryAfter * 1000;
  if (ms > o.maxRetryAfterMs) return null;
  // At least what the broker asked, spread so many clients do not come back at the same instant.
  return ms + random() * o.baseDelayMs;
}

export const RETRY_DEFAULTS = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 5_000, maxRetryAfterMs: 30_000 };

export async function wait(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal });
}
