// Retry pacing of webhook deliveries: exponential backoff with equal jitter, and a sleep that
// stop() can cut short.

/** Delay before retry number `attempt` (1-based): doubles from `baseMs` up to `maxMs`, at least half of it. */
export function retryDelayMs(baseMs: number, maxMs: number, attempt: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20));
  // "Equal jitter": at least half the delay, so retries from many subscriptions spread out but still back off.
  return exp / 2 + Math.random() * (exp / 2);
}

/** Sleeps `ms`, or until `holder.wake()` is called (the dispatcher's stop()). */
export function wakeableSleep(holder: { wake: (() => void) | null }, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      holder.wake = null;
      resolve();
    }, ms);
    holder.wake = () => {
      clearTimeout(t);
      holder.wake = null;
      resolve();
    };
  });
}
