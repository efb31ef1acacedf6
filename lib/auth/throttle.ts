// Slows password guessing without handing attackers a lockout button. Failures are counted per
// email *and* client address, so a stranger's failures for a real user's email do not keep
// that user (from their own address) out. After a few free failures each further one makes
// that pair wait longer (1 s, 2 s, 4 s … up to 15 min): a temporary refusal with a
// retry-after, never a lock. A second, looser counter per address catches one address spraying
// many emails. Memory is bounded by evicting the least recently failing entries one at a time;
// there is no global reset an attacker could trigger. Per process, which bounds guessing per
// instance without a shared store.
import { isIP } from "node:net";

export interface ThrottleLimits {
  /** Failures per email and address before backing off. */
  freeFailuresPerEmail: number;
  /** Failures per address (any email) before backing off. */
  freeFailuresPerAddress: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A counter with no failure for this long is forgotten. */
  forgetAfterMs: number;
  maxEntries: number;
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  freeFailuresPerEmail: 5,
  freeFailuresPerAddress: 100,
  baseDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxEntries: 100_000,
};

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterS: number };

interface Counter {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

/**
 * The part of a client address that identifies one client: IPv4 as is (IPv4-mapped IPv6
 * unwrapped), IPv6 by its /64, which one subscriber typically holds whole.
 */
export function clientAddressKey(address: string | null | undefined): string {
  const a = (address ?? "").trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (isIP(a) !== 6) return a || "unknown";
  const [head = "", tail = ""] = a.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = a.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export class LoginThrottle {
  // Insertion order is recency order: every failure re-inserts its entries at the end.
  private counters = new Map<string, Counter>();

  constructor(private readonly limits: ThrottleLimits = DEFAULT_THROTTLE_LIMITS) {}

  /** Whether a sign-in for `email` from `address` may be tried now. */
  check(email: string, address: string, now = Date.now()): ThrottleDecision {
    const waits = [this.blockedFor(pairKey(email, address), now), this.blockedFor(addressKey(address), now)];
    const waitMs = Math.max(...waits);
    return waitMs > 0 ? { allowed: false, retryAfterS: Math.ceil(waitMs / 1000) } : { allowed: true };
  }

  fail(email: string, address: string, now = Date.now()): void {
    this.bump(pairKey(email, address), this.limits.freeFailuresPerEmail, now);
    this.bump(addressKey(address), this.limits.freeFailuresPerAddress, now);
  }

  /** A correct password clears that email's counter for that address (the address counter decays by itself). */
  succeed(email: string, address: string): void {
    this.counters.delete(pairKey(email, address));
  }

  get size(): number {
    return this.counters.size;
  }

  private blockedFor(key: string, now: number): number {
    const c = this.counters.get(key);
    if (!c) return 0;
    if (now - c.lastFailure > this.limits.forgetAfterMs) {
      this.counters.delete(key);
      return 0;
    }
    return Math.max(0, c.blockedUntil - now);
  }

  private bump(key: string, free: number, now: number): void {
    const old = this.counters.get(key);
    const c = old && now - old.lastFailure <= this.limits.forgetAfterMs ? old : { failures: 0, lastFailure: now, blockedUntil: 0 };
    c.failures++;
    c.lastFailure = now;
    if (c.failures > free) {
      const exponent = Math.min(c.failures - free - 1, 30);
      c.blockedUntil = now + Math.min(this.limits.baseDelayMs * 2 ** exponent, this.limits.maxDelayMs);
    }
    this.counters.delete(key);
    this.counters.set(key, c);
    while (this.counters.size > this.limits.maxEntries) {
      const oldest = this.counters.keys().next().value as string;
      this.counters.delete(oldest);
    }
  }
}

function pairKey(email: string, address: string): string {
  return `e:${email}\n${clientAddressKey(address)}`;
}

function addressKey(address: string): string {
  return `a:${clientAddressKey(address)}`;
}
