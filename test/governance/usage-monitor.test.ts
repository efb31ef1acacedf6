// The usage evaluator alone, fed synthetic per-minute counts on a moved clock: a week of
// history in milliseconds. Covers what the HTTP test does not: refusal spikes, first uses of a
// token and a purpose after learning (not during it), use in an hour the tenant never uses,
// a rise spread over many tokens (the tenant's alert, not a token's), and idle decay.
import { describe, expect, test } from "vitest";
import type { TAlertThresholds } from "@/lib/contracts/governance";
import { DEFAULT_ALERT_THRESHOLDS } from "@/lib/broker/governance/alert-thresholds";
import type { Anomaly } from "@/lib/broker/governance/alert-store";
import { UsageMonitor } from "@/lib/broker/governance/usage-monitor";

const T = "11111111-1111-4111-8111-111111111111";
const START = Date.parse("2026-11-02T09:00:00Z"); // a Monday, 09:00 UTC

function monitor(overrides: Partial<TAlertThresholds> = {}) {
  let now = START;
  const seen: Anomaly[] = [];
  const m = new UsageMonitor(
    () => now,
    { thresholds: () => Promise.resolve({ thresholds: { ...DEFAULT_ALERT_THRESHOLDS, learningMinutes: 10, ...overrides }, timeZone: "UTC" }) },
    { see: (a) => (seen.push(...a), Promise.resolve()), resolveQuiet: () => Promise.resolve() },
  );
  return {
    seen,
    /** One minute of use: `n` requests of each token (refused ones flagged), then the minute is closed. */
    async minute(n: number, opts: { tokens?: string[]; refused?: number; purpose?: string } = {}) {
      for (const tok of opts.tokens ?? ["tok-a"]) {
        for (let i = 0; i < n; i++) m.observe(T, tok, opts.purpose ?? "vendor_system_operation", false);
        for (let i = 0; i < (opts.refused ?? 0); i++) m.observe(T, tok, opts.purpose ?? "vendor_system_operation", true);
      }
      now += 60_000;
      await m.evaluate();
    },
    skip(minutes: number) {
      now += minutes * 60_000;
    },
  };
}

const kinds = (a: Anomaly[]) => a.map((x) => `${x.kind} ${x.subject}`);

describe("usage monitor", () => {
  test("nothing is raised while learning, not even a burst or a new token", async () => {
    const u = monitor();
    await u.minute(5);
    await u.minute(500, { tokens: ["tok-a", "tok-b"] });
    expect(u.seen).toEqual([]);
  });

  test("a refusal spike is its own alert; the request rate it is part of can stay normal", async () => {
    const u = monitor();
    for (let i = 0; i < 12; i++) await u.minute(20);
    await u.minute(20, { refused: 40 });
    expect(kinds(u.seen)).toEqual(["refusal_spike token:tok-a"]);
  });

  test("first use of a token or a purpose after learning", async () => {
    const u = monitor();
    for (let i = 0; i < 12; i++) await u.minute(5);
    await u.minute(1, { tokens: ["tok-new"], purpose: "third_party_data_request" });
    expect(kinds(u.seen).sort()).toEqual(["new_purpose purpose:third_party_data_request", "new_token token:tok-new"]);
  });

  test("a rise no single token explains is the tenant's alert", async () => {
    const u = monitor({ rateFloor: 1 });
    const many = Array.from({ length: 20 }, (_, i) => `tok-${i}`);
    for (let i = 0; i < 12; i++) await u.minute(1, { tokens: many });
    await u.minute(8, { tokens: many });
    expect(kinds(u.seen)).toEqual(["rate_spike tenant"]);
  });

  test("after a week of use at 09:00, use at 09:30 is usual and use at 03:00 is off-hours", async () => {
    const u = monitor({ newToken: false, newPurpose: false });
    for (let day = 0; day < 8; day++) {
      for (let h = 0; h < 8; h++) await u.minute(5); // 09:00-09:07 each day
      u.skip(1440 - 8);
    }
    expect(u.seen).toEqual([]);
    u.skip(30); // 09:30
    await u.minute(5);
    expect(u.seen).toEqual([]);
    u.skip(17 * 60 + 29); // 03:00 the next day
    await u.minute(5);
    expect(kinds(u.seen)).toEqual(["off_hours tenant"]);
  });
});
