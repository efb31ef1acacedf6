// Finding #13: failures back off per email *and* client address, never lock a user out from
// their own address, and never reset globally (memory is bounded by evicting the oldest entries).
import { describe, expect, test } from "vitest";
import { clientAddressKey, DEFAULT_THROTTLE_LIMITS, LoginThrottle } from "@/lib/auth/throttle";

const EMAIL = "admin@acme.example";
const ATTACKER = "203.0.113.7";
const OWNER = "198.51.100.20";

function failTimes(t: LoginThrottle, n: number, email: string, address: string, now: number): void {
  for (let i = 0; i < n; i++) t.fail(email, address, now);
}

describe("LoginThrottle", () => {
  test("the first failures are free, then each failure doubles the wait", () => {
    const t = new LoginThrottle();
    const now = 1_000_000;
    failTimes(t, 5, EMAIL, ATTACKER, now);
    expect(t.check(EMAIL, ATTACKER, now)).toEqual({ allowed: true });
    t.fail(EMAIL, ATTACKER, now);
    expect(t.check(EMAIL, ATTACKER, now)).toEqual({ allowed: false, retryAfterS: 1 });
    expect(t.check(EMAIL, ATTACKER, now + 1_001)).toEqual({ allowed: true });
    t.fail(EMAIL, ATTACKER, now + 1_001);
    expect(t.check(EMAIL, ATTACKER, now + 1_001)).toEqual({ allowed: false, retryAfterS: 2 });
    t.fail(EMAIL, ATTACKER, now + 3_002);
    expect(t.check(EMAIL, ATTACKER, now + 3_002)).toEqual({ allowed: false, retryAfterS: 4 });
  });

  test("the wait is capped at 15 minutes: a temporary refusal, never a lock", () => {
    const t = new LoginThrottle();
    failTimes(t, 60, EMAIL, ATTACKER, 0);
    expect(t.check(EMAIL, ATTACKER, 0)).toEqual({ allowed: false, retryAfterS: 15 * 60 });
    expect(t.check(EMAIL, ATTACKER, 15 * 60_000 + 1)).toEqual({ allowed: true });
  });

  test("an attacker's failures for a user's email do not keep that user out from their own address", () => {
    const t = new LoginThrottle();
    failTimes(t, 50, EMAIL, ATTACKER, 0);
    expect(t.check(EMAIL, ATTACKER, 0).allowed).toBe(false);
    expect(t.check(EMAIL, OWNER, 0)).toEqual({ allowed: true });
  });

  test("a correct password clears that email's backoff for that address only", () => {
    const t = new LoginThrottle();
    failTimes(t, 8, EMAIL, OWNER, 0);
    failTimes(t, 8, EMAIL, ATTACKER, 0);
    t.succeed(EMAIL, OWNER);
    expect(t.check(EMAIL, OWNER, 0)).toEqual({ allowed: true });
    expect(t.check(EMAIL, ATTACKER, 0).allowed).toBe(false);
  });

  test("one address spraying many emails backs off on its address counter", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < DEFAULT_THROTTLE_LIMITS.freeFailuresPerAddress; i++) t.fail(`user${i}@acme.example`, ATTACKER, 0);
    expect(t.check("fresh@acme.example", ATTACKER, 0)).toEqual({ allowed: true });
    t.fail("user-x@acme.example", ATTACKER, 0);
    expect(t.check("fresh@acme.example", ATTACKER, 0).allowed).toBe(false);
    expect(t.check("fresh@acme.example", OWNER, 0)).toEqual({ allowed: true });
  });

  test("addresses in one IPv6 /64 share a counter; IPv4-mapped addresses count as IPv4", () => {
    expect(clientAddressKey("2001:db8:1:2:aaaa::1")).toBe(clientAddressKey("2001:0db8:0001:0002:ffff:1:2:3"));
    expect(clientAddressKey("2001:db8:1:2::1")).not.toBe(clientAddressKey("2001:db8:1:3::1"));
    expect(clientAddressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddressKey("::1")).toBe("0:0:0:0::/64");
    expect(clientAddressKey("")).toBe("unknown");
    const t = new LoginThrottle();
    failTimes(t, 6, EMAIL, "2001:db8:1:2::10", 0);
    expect(t.check(EMAIL, "2001:db8:1:2::99", 0).allowed).toBe(false);
  });

  test("counters are forgotten after an hour without failures", () => {
    const t = new LoginThrottle();
    failTimes(t, 6, EMAIL, ATTACKER, 0);
    t.fail(EMAIL, ATTACKER, 0);
    expect(t.check(EMAIL, ATTACKER, 60 * 60_000 + 1)).toEqual({ allowed: true });
    // ...and start from zero again.
    failTimes(t, 5, EMAIL, ATTACKER, 60 * 60_000 + 2);
    expect(t.check(EMAIL, ATTACKER, 60 * 60_000 + 2)).toEqual({ allowed: true });
  });

  test("a flood of distinct emails never resets the throttle: only the oldest entries are evicted", () => {
    const limits = { ...DEFAULT_THROTTLE_LIMITS, maxEntries: 1_000, freeFailuresPerAddress: 1_000_000 };
    const t = new LoginThrottle(limits);
    // The victim pair is backing off, then keeps failing while the flood goes on.
    failTimes(t, 8, EMAIL, ATTACKER, 0);
    for (let i = 0; i < 5_000; i++) {
      t.fail(`flood${i}@example.com`, `10.0.${i % 250}.${i % 200}`, 1);
      if (i % 100 === 0) t.fail(EMAIL, ATTACKER, 1);
      expect(t.size).toBeLessThanOrEqual(1_000);
    }
    expect(t.check(EMAIL, ATTACKER, 1).allowed).toBe(false);
    // The flood's oldest entries went first: the first flood email is forgotten, the last one is not.
    failTimes(t, 5, "flood4999@example.com", "10.0.249.199", 1);
    expect(t.check("flood4999@example.com", "10.0.249.199", 1).allowed).toBe(false);
    failTimes(t, 5, "flood0@example.com", "10.0.0.0", 1);
    expect(t.check("flood0@example.com", "10.0.0.0", 1)).toEqual({ allowed: true });
  });
});
