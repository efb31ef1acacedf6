// Hedged unwrap of one DEK that has a form under the class's secondary key (issue 12).
//
// The primary is asked first. The secondary is asked too when the primary answers `unavailable`
// (timeout, 5xx, throttling, refused connection, open circuit) or has not answered within the
// hedge budget. The first success wins; a result that arrives after the race was decided is
// destroyed (its buffer zeroed), never dropped on the floor.
//
// A `revoked` answer from either key is final: the tenant pulled that plug and the class locks
// (the KMS gateway does that on the revoked answer itself), so a success of the other key must not
// paper over it. Any other failure of the primary (`invalid`, a bug) is final too: only an outage
// is a reason to fail over. When both are unavailable the caller gets the primary's error (503).
//
// Forced mode (a failover drill) asks the secondary first, with the primary as its hedge, so a
// drill against a broken secondary degrades to the normal path instead of failing requests.
//
// Pure control flow: the attempts, the timer and the destroy hook are given, so unit tests drive
// it with explicit promises and fake timers.
import { isKmsError } from "../kms/types";

export type UnwrapRole = "primary" | "secondary";

export interface HedgedUnwrapOptions<T> {
  /** How long the first key may take before the other is asked as well (BROKER_FAILOVER_HEDGE_MS). */
  hedgeMs: number;
  /** Drill: the secondary first, the primary as its hedge. */
  forceSecondary?: boolean;
  /** Zeroes a result that lost the race (DataKeyMaterial.destroy). */
  destroy: (result: T) => void;
  /** Called once when the second attempt starts (metrics, tests). */
  onHedge?: (started: UnwrapRole, why: "unavailable" | "budget") => void;
  /** Timer; the default is setTimeout (unref'd). Returns a cancel function. */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

export interface HedgedUnwrapResult<T> {
  result: T;
  /** Which key answered. */
  via: UnwrapRole;
  /** Whether the other key was asked too. */
  hedged: boolean;
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

type Kind = "revoked" | "unavailable" | "other";
const kindOf = (e: unknown): Kind => (isKmsError(e) ? (e.kind === "revoked" ? "revoked" : e.kind === "unavailable" ? "unavailable" : "other") : "other");

/**
 * Unwraps through `primary`, failing over to `secondary` (null: the DEK has no secondary form, so
 * this is just the primary attempt). Attempts are started lazily; each is called at most once.
 */
export function hedgedUnwrap<T>(primary: () => Promise<T>, secondary: (() => Promise<T>) | null, opts: HedgedUnwrapOptions<T>): Promise<HedgedUnwrapResult<T>> {
  if (!secondary) return primary().then((result) => ({ result, via: "primary" as const, hedged: false }));
  type Attempt = { role: UnwrapRole; run: () => Promise<T> };
  const p: Attempt = { role: "primary", run: primary };
  const s: Attempt = { role: "secondary", run: secondary };
  const [first, second] = opts.forceSecondary ? [s, p] : [p, s];
  const setTimer = opts.setTimer ?? defaultTimer;
  return new Promise<HedgedUnwrapResult<T>>((resolve, reject) => {
    let decided = false;
    let secondStarted = false;
    const failures = new Map<UnwrapRole, unknown>();
    let cancelTimer: () => void = () => {};

    const decide = (f: () => void) => {
      decided = true;
      cancelTimer();
      f();
    };
    const onSuccess = (role: UnwrapRole, result: T) => {
      if (decided) return opts.destroy(result);
      decide(() => resolve({ result, via: role, hedged: secondStarted }));
    };
    const onFailure = (role: UnwrapRole, e: unknown) => {
      if (decided) return;
      failures.set(role, e);
      const kind = kindOf(e);
      // A revocation from either key, or a primary failure that is not an outage: final.
      if (kind === "revoked" || (role === "primary" && kind === "other")) return decide(() => reject(e as Error));
      const other: UnwrapRole = role === "primary" ? "secondary" : "primary";
      if (role === first.role && !secondStarted) return startSecond("unavailable");
      // Both failed: the primary's error (an outage of both answers 503 as without a secondary).
      if (failures.has(other)) return decide(() => reject(failures.get("primary") as Error));
      // Otherwise the other key is still out, and its answer decides.
    };
    const run = (role: UnwrapRole, attempt: () => Promise<T>) => {
      let p: Promise<T>;
      try {
        p = attempt();
      } catch (e) {
        p = Promise.reject(e as Error);
      }
      p.then(
        (r) => onSuccess(role, r),
        (e: unknown) => onFailure(role, e),
      );
    };
    const startSecond = (why: "unavailable" | "budget") => {
      if (secondStarted || decided) return;
      secondStarted = true;
      cancelTimer();
      opts.onHedge?.(second.role, why);
      run(second.role, second.run);
    };

    cancelTimer = setTimer(() => startSecond("budget"), Math.max(0, opts.hedgeMs));
    run(first.role, first.run);
  });
}
