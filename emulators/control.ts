// The control plane shared by the three KMS emulators: one zod schema for faults, the
// `/_emulator/*` endpoints (faults, call counts, reset, emulator-specific routes such as
// principals), and the admission step every data-plane request goes through: count the call,
// decide the fault, wait the injected latency (cut short by close()).
//
// Control routes (all JSON):
//   GET/PUT/DELETE /_emulator/faults   current fault, set one (validated by faultConfigSchema), clear
//   GET/DELETE     /_emulator/calls    call counts per operation and per key, reset them
//   POST           /_emulator/reset    clear faults and call counts at once
//   plus the routes an emulator registers (e.g. POST /_emulator/principals)
// State files: StateFile below, one JSON file per emulator (npm start keeps them in DATA_DIR).
// Errors answer 400 `{ "error": "<message>" }`; an unknown route answers 404.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { readBody, sendJson } from "./http";

export const FAULT_ERRORS = ["server_error", "throttle", "reset", "blackhole"] as const;
export type FaultAction = "none" | (typeof FAULT_ERRORS)[number];

export const faultConfigSchema = z
  .object({
    /** Added before every answer (ms). */
    latencyMs: z.number().finite().min(0, "latencyMs must be >= 0").optional(),
    /** Fraction of requests (0..1) that get `error`; default 1 when `error` is set. */
    errorRate: z.number().min(0, "errorRate must be between 0 and 1").max(1, "errorRate must be between 0 and 1").optional(),
    error: z.enum(FAULT_ERRORS).optional(),
    /** Only requests for these operations are affected (the provider's own names, e.g. "Decrypt", "unwrapkey"). */
    operations: z.array(z.string()).optional(),
  })
  .strict();

export type FaultConfig = z.infer<typeof faultConfigSchema>;

export interface FaultDecision {
  delayMs: number;
  action: FaultAction;
}

/** One readable line out of a zod error, e.g. "errorRate: errorRate must be between 0 and 1". */
export function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

/** Parses with a zod schema and throws a ControlError (answered as 400) on failure. */
export function parseWith<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new ControlError(zodMessage(r.error));
  return r.data;
}

export class ControlError extends Error {}

export class FaultInjector {
  private config: FaultConfig = {};

  set(config: FaultConfig): void {
    const c = parseWith(faultConfigSchema, config);
    this.config = { ...c, errorRate: c.errorRate ?? (c.error ? 1 : 0) };
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

/** An emulator-specific control route; `run` gets the parsed JSON body (undefined when empty). */
export interface ControlRoute {
  method: "GET" | "PUT" | "POST" | "DELETE";
  path: string;
  run(body: unknown): { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;
}

export const CONTROL_PREFIX = "/_emulator/";
const MAX_CONTROL_BODY = 64 * 1024;

export class ControlPlane {
  readonly faults = new FaultInjector();
  readonly calls = new CallCounter();
  private readonly lifetime = new AbortController();
  private readonly routes: ControlRoute[];

  constructor(extraRoutes: ControlRoute[] = []) {
    const ok = (body: unknown = {}) => ({ status: 200, body });
    this.routes = [
      { method: "GET", path: "/_emulator/faults", run: () => ok(this.faults.current()) },
      {
        method: "PUT",
        path: "/_emulator/faults",
        run: (body) => {
          this.faults.set(parseWith(faultConfigSchema, body));
          return ok(this.faults.current());
        },
      },
      { method: "DELETE", path: "/_emulator/faults", run: () => (this.faults.clear(), ok()) },
      { method: "GET", path: "/_emulator/calls", run: () => ok(this.calls.snapshot()) },
      { method: "DELETE", path: "/_emulator/calls", run: () => (this.calls.reset(), ok()) },
      {
        method: "POST",
        path: "/_emulator/reset",
        run: () => {
          this.faults.clear();
          this.calls.reset();
          return ok();
        },
      },
      ...extraRoutes,
    ];
  }

  get closed(): boolean {
    return this.lifetime.signal.aborted;
  }

  /**
   * Every data-plane request passes here once it names a known operation: it is counted (before
   * the fault, so faulted attempts count too), then the fault is decided and its latency waited.
   * Returns "closed" when the emulator shut down during the wait; the caller then drops the request.
   */
  async admit(operation: string, key?: string): Promise<FaultAction | "closed"> {
    this.calls.record(operation, key);
    const d = this.faults.decide(operation);
    if (d.delayMs > 0) {
      try {
        await delay(d.delayMs, undefined, { signal: this.lifetime.signal });
      } catch {
        return "closed"; // aborted by close(): the socket is being destroyed anyway
      }
    }
    return this.closed ? "closed" : d.action;
  }

  isControlPath(pathname: string): boolean {
    return pathname.startsWith(CONTROL_PREFIX);
  }

  /** Serves one `/_emulator/*` request. `body` may be given when the transport already read it. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string, body?: Buffer): Promise<void> {
    try {
      const route = this.routes.find((r) => r.method === req.method && r.path === pathname);
      const raw = body ?? (await readBody(req, MAX_CONTROL_BODY));
      if (raw === null) return sendJson(res, 413, { error: "body too large" });
      if (!route) return sendJson(res, 404, { error: `no control route ${req.method ?? "?"} ${pathname}` });
      let parsed: unknown;
      if (raw.length > 0) {
        try {
          parsed = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new ControlError("body is not valid JSON");
        }
      }
      const out = await route.run(parsed);
      sendJson(res, out.status, out.body);
    } catch (e) {
      sendJson(res, 400, { error: e instanceof Error ? e.message : String(e) });
    }
  }

  close(): void {
    this.lifetime.abort();
  }
}

/**
 * An emulator's JSON state file: loaded once on start, written atomically (temp file + rename,
 * mode 0600, so a crash mid-write never leaves a truncated file), either at once or debounced.
 */
export class StateFile<T> {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string | undefined,
    private readonly snapshot: () => T,
    private readonly debounceMs = 0,
  ) {}

  /** The stored state, or undefined when there is no file (yet). */
  load(): T | undefined {
    if (!this.path || !existsSync(this.path)) return undefined;
    return JSON.parse(readFileSync(this.path, "utf8")) as T;
  }

  /** Records a change: written now, or within debounceMs. */
  changed(): void {
    if (!this.path) return;
    if (this.debounceMs === 0) return this.flush();
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.debounceMs);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
