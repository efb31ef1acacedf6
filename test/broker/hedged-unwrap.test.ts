// The hedged unwrap's decision rules, driven by explicit promises and a manual timer (no sleeps,
// no real time): who is asked when, who wins, what is destroyed, and which error the caller gets.
import { describe, expect, test } from "vitest";
import { hedgedUnwrap, type HedgedUnwrapOptions } from "@/lib/broker/hedged-unwrap";
import { KmsError } from "@/lib/kms/types";

interface Result {
  id: string;
  destroyed: boolean;
}

function deferred() {
  let resolve!: (v: Result) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Result>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An attempt that records whether it was started and answers when the test says so. */
function attempt() {
  const d = deferred();
  const a = { started: 0, run: () => (a.started++, d.promise), ok: (id: string) => d.resolve({ id, destroyed: false }), fail: d.reject };
  return a;
}

/** A timer the test fires by hand. */
function manualTimer() {
  const t = { armed: [] as { fn: () => void; ms: number; cancelled: boolean }[], fire: () => t.armed.filter((a) => !a.cancelled).forEach((a) => ((a.cancelled = true), a.fn())) };
  const setTimer: NonNullable<HedgedUnwrapOptions<Result>["setTimer"]> = (fn, ms) => {
    const entry = { fn, ms, cancelled: false };
    t.armed.push(entry);
    return () => (entry.cancelled = true);
  };
  return { ...t, setTimer };
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const unavailable = () => new KmsError("unavailable", "aws", "timed out", { providerCode: "timeout" });
const revoked = (p: "aws" | "gcp" = "aws") => new KmsError("revoked", p, "key disabled", { reason: "disabled" });
const invalid = () => new KmsError("invalid", "aws", "bad ciphertext");

function setup(forceSecondary = false) {
  const primary = attempt();
  const secondary = attempt();
  const timer = manualTimer();
  const destroyed: Result[] = [];
  const hedges: string[] = [];
  const p = hedgedUnwrap(primary.run, secondary.run, {
    hedgeMs: 300,
    forceSecondary,
    setTimer: timer.setTimer,
    destroy: (r) => {
      r.destroyed = true;
      destroyed.push(r);
    },
    onHedge: (role, why) => hedges.push(`${role}:${why}`),
  });
  const outcome = p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  return { primary, secondary, timer, destroyed, hedges, outcome };
}

describe("hedgedUnwrap", () => {
  test("without a secondary form it is the primary attempt alone", async () => {
    const primary = attempt();
    const p = hedgedUnwrap(primary.run, null, { hedgeMs: 300, destroy: () => {} });
    primary.ok("p");
    await expect(p).resolves.toMatchObject({ via: "primary", hedged: false, result: { id: "p" } });
  });

  test("a fast primary wins; the secondary is never asked", async () => {
    const s = setup();
    expect(s.timer.armed[0]?.ms).toBe(300);
    s.primary.ok("p");
    const o = await s.outcome;
    expect(o).toMatchObject({ ok: true, v: { via: "primary", hedged: false } });
    s.timer.fire();
    expect(s.secondary.started).toBe(0);
  });

  test("primary unavailable: the secondary is asked at once and wins", async () => {
    const s = setup();
    s.primary.fail(unavailable());
    await flush();
    expect(s.secondary.started).toBe(1);
    expect(s.hedges).toEqual(["secondary:unavailable"]);
    s.secondary.ok("s");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "secondary", hedged: true, result: { id: "s" } } });
  });

  test("primary silent past the budget: the secondary is asked; its success wins and the late primary result is destroyed", async () => {
    const s = setup();
    await flush();
    expect(s.secondary.started).toBe(0);
    s.timer.fire();
    expect(s.secondary.started).toBe(1);
    expect(s.hedges).toEqual(["secondary:budget"]);
    s.secondary.ok("s");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "secondary" } });
    s.primary.ok("late");
    await flush();
    expect(s.destroyed.map((r) => r.id)).toEqual(["late"]);
  });

  test("hedged, the primary answers first: it wins and the secondary's result is destroyed", async () => {
    const s = setup();
    s.timer.fire();
    s.primary.ok("p");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "primary", hedged: true } });
    s.secondary.ok("s");
    await flush();
    expect(s.destroyed.map((r) => r.id)).toEqual(["s"]);
  });

  test("primary revoked: final, the secondary is never asked", async () => {
    const s = setup();
    s.primary.fail(revoked());
    const o = await s.outcome;
    expect(o.ok).toBe(false);
    expect((o as { e: KmsError }).e.kind).toBe("revoked");
    s.timer.fire();
    expect(s.secondary.started).toBe(0);
  });

  test("hedged, the primary says revoked before the secondary answers: revoked wins, the secondary's success is destroyed", async () => {
    const s = setup();
    s.timer.fire();
    s.primary.fail(revoked());
    const o = await s.outcome;
    expect((o as { e: KmsError }).e.kind).toBe("revoked");
    s.secondary.ok("s");
    await flush();
    expect(s.destroyed.map((r) => r.id)).toEqual(["s"]);
  });

  test("the secondary says revoked while the primary is out: final (the class locks; no success papers over it)", async () => {
    const s = setup();
    s.primary.fail(unavailable());
    await flush();
    s.secondary.fail(revoked("gcp"));
    const o = await s.outcome;
    expect((o as { e: KmsError }).e).toMatchObject({ kind: "revoked", provider: "gcp" });
  });

  test("both unavailable: the primary's error", async () => {
    const s = setup();
    const primaryError = unavailable();
    s.timer.fire();
    s.secondary.fail(new KmsError("unavailable", "gcp", "down"));
    await flush();
    expect(await Promise.race([s.outcome, flush().then(() => "pending")])).toBe("pending");
    s.primary.fail(primaryError);
    const o = await s.outcome;
    expect((o as { e: unknown }).e).toBe(primaryError);
  });

  test("a primary failure that is not an outage (invalid) is final", async () => {
    const s = setup();
    s.primary.fail(invalid());
    const o = await s.outcome;
    expect((o as { e: KmsError }).e.kind).toBe("invalid");
    expect(s.secondary.started).toBe(0);
  });

  test("the secondary fails (not revoked) while the primary is still out: the primary's answer decides", async () => {
    const s = setup();
    s.timer.fire();
    s.secondary.fail(invalid());
    await flush();
    s.primary.ok("p");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "primary" } });
  });

  test("forced (drill): the secondary first; the primary is not asked when it answers", async () => {
    const s = setup(true);
    await flush();
    expect(s.secondary.started).toBe(1);
    expect(s.primary.started).toBe(0);
    s.secondary.ok("s");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "secondary", hedged: false } });
  });

  test("forced, the secondary unavailable: the primary serves (a drill never fails a request the primary can serve)", async () => {
    const s = setup(true);
    s.secondary.fail(unavailable());
    await flush();
    expect(s.primary.started).toBe(1);
    s.primary.ok("p");
    expect(await s.outcome).toMatchObject({ ok: true, v: { via: "primary", hedged: true } });
  });

  test("an attempt that throws synchronously counts as its failure", async () => {
    const secondary = attempt();
    const p = hedgedUnwrap(
      () => {
        throw unavailable();
      },
      secondary.run,
      { hedgeMs: 300, destroy: () => {}, setTimer: manualTimer().setTimer },
    );
    await flush();
    secondary.ok("s");
    await expect(p).resolves.toMatchObject({ via: "secondary" });
  });
});
