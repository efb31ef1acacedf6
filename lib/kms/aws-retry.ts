// The AWS SDK's standard retries, minus one case: an attempt that was sent and got no answer
// in time is never sent again. The KMS may well have done that work (and counted and billed
// it); re-sending doubles the calls exactly when the KMS or this process is slow, and under a
// burst it was what turned one cold-DEK unwrap into two at the KMS (a busy event loop lets the
// timer fire first). Instead the one attempt gets the whole call's budget (aws.ts). Attempts that
// never reached the KMS (no connection) and answers that say "try again" (5xx, throttling) are
// retried as before: exponential backoff with full jitter, Retry-After honoured.
// Structural types: the SDK accepts any object with these three methods (RetryStrategyV2).

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

interface RetryErrorInfo {
  error?: unknown;
  errorType: "TRANSIENT" | "THROTTLING" | "SERVER_ERROR" | "CLIENT_ERROR";
  retryAfterHint?: Date;
}

const BASE_DELAY_MS = 100;
const THROTTLING_BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 20_000;

/** True for a request that was (or may have been) delivered and whose answer did not come in time. */
export function isUnansweredAttempt(error: unknown): boolean {
  const e = error as { name?: unknown; message?: unknown } | null;
  if (!e || e.name !== "TimeoutError") return false;
  // The one TimeoutError that provably never reached the server: no connection was established.
  return !(typeof e.message === "string" && e.message.includes("did not establish a connection"));
}

function token(count: number, delay: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delay };
}

export class NoResendRetryStrategy {
  readonly mode = "standard";

  constructor(private readonly maxAttempts: number) {}

  acquireInitialRetryToken(_scope: string): Promise<RetryToken> {
    return Promise.resolve(token(0, 0));
  }

  refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const count = previous.getRetryCount() + 1;
    if (count >= this.maxAttempts || info.errorType === "CLIENT_ERROR" || isUnansweredAttempt(info.error)) {
      return Promise.reject(new Error("no retry for this attempt"));
    }
    const base = info.errorType === "THROTTLING" ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS;
    let delay = Math.floor(Math.random() * Math.min(MAX_DELAY_MS, base * 2 ** previous.getRetryCount()));
    if (info.retryAfterHint) delay = Math.min(MAX_DELAY_MS, Math.max(delay, info.retryAfterHint.getTime() - Date.now()));
    return Promise.resolve(token(count, delay));
  }

  recordSuccess(_token: RetryToken): void {
    // Stateless: there is no retry quota to refill.
  }
}
