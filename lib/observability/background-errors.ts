// Failures of background loops (prober ticks, lock fan-out writes, webhook dispatch, audit
// checkpoints, refresh-ahead, retention) are logged at warn with the task's name and counted in
// cmek_background_errors_total{task}. A database outage must show up here, never vanish.
import { Counter, type Registry } from "prom-client";
import type { Logger } from "./logger";

export class BackgroundErrors {
  private readonly counter: Counter<"task">;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.counter = new Counter({
      name: "cmek_background_errors_total",
      help: "Failures of background tasks (prober, fan-out, webhooks, checkpoints, refresh-ahead, retention) by task",
      labelNames: ["task"],
      registers: registry ? [registry] : [],
    });
  }

  /** Logs and counts one failure of `task`. Never throws. */
  report(task: string, err: unknown): void {
    this.counter.inc({ task });
    this.counts.set(task, (this.counts.get(task) ?? 0) + 1);
    this.logger.warn({ task, err: err instanceof Error ? err : new Error(String(err)) }, `background task ${task} failed`);
  }

  /** Failures counted so far for `task` (tests and health views). */
  count(task: string): number {
    return this.counts.get(task) ?? 0;
  }

  /** Wraps a promise-returning background step so its failure is reported instead of dropped. */
  guard(task: string, fn: () => unknown): Promise<void> {
    return Promise.resolve()
      .then(fn)
      .then(
        () => undefined,
        (err: unknown) => this.report(task, err),
      );
  }
}
