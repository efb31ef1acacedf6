// Background failures are visible: a failing refresh-ahead is reported through BackgroundErrors,
// which logs it at warn with the task name and counts it in cmek_background_errors_total{task}.
import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { describe, expect, test } from "vitest";
import { DekCache } from "@/lib/broker/dek-cache";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import { BackgroundErrors } from "@/lib/observability/background-errors";
import { createLogger } from "@/lib/observability/logger";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: "warn", destination }) };
}

async function until(check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe("background errors", () => {
  test("a failed refresh-ahead keeps serving the cached DEK and is logged and counted as dek.refresh_ahead", async () => {
    const { lines, logger } = capture();
    const registry = new Registry();
    const errors = new BackgroundErrors(logger, registry);
    let t = 1_000_000;
    const cache = new DekCache({ ttlMs: 1000, maxUses: 1e9, maxEntries: 10, now: () => t, onRefreshError: (e) => errors.report("dek.refresh_ahead", e) });
    const first = await cache.get("t", "d", () => Promise.resolve(DataKeyMaterial.generate()));
    t += 900;
    const again = await cache.get("t", "d", () => Promise.reject(new Error("KMS throttled the refresh")));
    expect(again.hit).toBe(true);
    expect(again.material).toBe(first.material);
    await until(() => errors.count("dek.refresh_ahead") === 1);
    expect(errors.count("dek.refresh_ahead")).toBe(1);
    await until(() => lines.length > 0);
    expect(lines[0]).toMatchObject({ level: 40, task: "dek.refresh_ahead", err: { message: "KMS throttled the refresh" } });
    expect(await registry.metrics()).toContain('cmek_background_errors_total{task="dek.refresh_ahead"} 1');
  });

  test("guard() reports a rejected background step instead of dropping it, and never rejects itself", async () => {
    const { logger } = capture();
    const errors = new BackgroundErrors(logger, new Registry());
    await expect(errors.guard("prober.tick", async () => Promise.reject(new Error("database unreachable")))).resolves.toBeUndefined();
    expect(errors.count("prober.tick")).toBe(1);
  });
});
