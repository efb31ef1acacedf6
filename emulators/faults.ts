// Fault injection and call counting shared by the three KMS emulators.
// A test (or `npm run emulators` user) sets a fault through the emulator's control
// endpoint; every data or management request then asks `decide()` what to do.

export type FaultAction = "none" | "server_error" | "throttle" | "reset" | "blackhole";

export interface FaultConfig {
  /** Added before every answer (ms). */
  latencyMs?: number;
  /** Fraction of requests (0..1) that get `error`; default 1 when `error` is set. */
  errorRate?: number;
  error?: Exclude<FaultAction, "none">;
  /** Only requests for these operations are affected (provider's own names, e.g. "Decrypt", "unwrapkey", "Decrypt"). */
  operations?: string[];
}

export interface FaultDecision {
  delayMs: number;
  action: FaultAction;
}

export class FaultInjector {
  private config: FaultConfig = {};

  set(config: FaultConfig): void {
    const rate = config.errorRate ?? (config.error ? 1 : 0);
    if (!(rate >= 0 && rate <= 1)) throw new Error("errorRate must be between 0 and 1");
    if (config.latencyMs !== undefined && !(config.latencyMs >= 0)) throw new Error("latencyMs must be >= 0");
    this.config = { ...config, errorRate: rate };
  }

  clear(): void {
    this.config = {};
  }

  current(): FaultConfig {
    return { ...this.config };
  }

  decide(operation: string): FaultDecision {
    const c = this.config;
    if (c.operations && !c.operations.includes(operation)) return { delayMs: 0, action: "none" };
    const delayMs = c.latencyMs ?? 0;
    if (c.error && Math.random() < (c.errorRate ?? 1)) return { delayMs, action: c.error };
    return { delayMs, action: "none" };
  }
}

/** Counts calls per operation and per key, so tests can assert KMS economy at the emulator. */
export class CallCounter {
  private byOp = new Map<string, number>();
  private byOpKey = new Map<string, number>();

  record(operation: string, key?: string): void {
    this.byOp.set(operation, (this.byOp.get(operation) ?? 0) + 1);
    if (key) {
      const k = `${operation} ${key}`;
      this.byOpKey.set(k, (this.byOpKey.get(k) ?? 0) + 1);
    }
  }

  count(operation: string, key?: string): number {
    return key ? (this.byOpKey.get(`${operation} ${key}`) ?? 0) : (this.byOp.get(operation) ?? 0);
  }

  snapshot(): { operations: Record<string, number>; byKey: Record<string, number> } {
    return { operations: Object.fromEntries(this.byOp), byKey: Object.fromEntries(this.byOpKey) };
  }

  reset(): void {
    this.byOp.clear();
    this.byOpKey.clear();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
