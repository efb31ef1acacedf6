// Waiting by polling: the tests wait for an observable effect, never for a fixed time. A wait
// that runs out fails with the name of what it waited for and the last value it saw.

export interface WaitOptions {
  /** What is being waited for, in words: the failure message starts with it. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `fn` every `intervalMs` until it returns a truthy value, and returns that value.
 * Throws `timed out after N ms waiting for <what>` (with the last value seen, or the last error
 * `fn` threw) when `timeoutMs` passes first.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      // A failing check (a server not listening yet, a row not written yet) is one more "not yet".
      last = e;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `last error: ${last.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what} (${seen})`);
    }
    await new Promise<void>((r) => setTimeout(r, intervalMs));
  }
}

