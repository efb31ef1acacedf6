// Slows password guessing: after repeated failures for one email, further attempts are refused
// for a while. Per process, which bounds guessing per instance without a shared store.
const WINDOW_MS = 5 * 60 * 1000;
const MAX_FAILURES = 10;

export class LoginThrottle {
  private failures = new Map<string, { count: number; first: number }>();

  allow(key: string, now = Date.now()): boolean {
    const f = this.failures.get(key);
    if (!f) return true;
    if (now - f.first > WINDOW_MS) {
      this.failures.delete(key);
      return true;
    }
    return f.count < MAX_FAILURES;
  }

  fail(key: string, now = Date.now()): void {
    const f = this.failures.get(key);
    if (!f || now - f.first > WINDOW_MS) this.failures.set(key, { count: 1, first: now });
    else f.count++;
    if (this.failures.size > 50_000) this.failures.clear();
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
