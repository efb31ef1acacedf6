import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config/env";

describe("configuration", () => {
  test("nothing configured is the demo: embedded database and emulators", () => {
    const c = loadConfig({});
    expect(c.demo).toBe(true);
    expect(c.emulators).toBe(true);
    expect(c.PORT).toBe(3000);
    expect(c.BROKER_DEK_CACHE_TTL_MS).toBe(300_000);
    expect(c.BROKER_PROBE_INTERVAL_MS).toBe(30_000);
  });

  test("production refuses to start without an admin token", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgresql://db/x" })).toThrow(/BROKER_ADMIN_TOKEN: required in production/);
    const c = loadConfig({ DATABASE_URL: "postgresql://db/x", BROKER_ADMIN_TOKEN: "x".repeat(32) });
    expect(c.demo).toBe(false);
  });

  test("cloud configuration turns the emulators off; BROKER_EMULATORS overrides", () => {
    expect(loadConfig({ AWS_ACCESS_KEY_ID: "AKIA", BROKER_ADMIN_TOKEN: "x".repeat(32) }).emulators).toBe(false);
    expect(loadConfig({ BROKER_EMULATORS: "off" }).emulators).toBe(false);
  });

  test("every invalid variable is reported by name, together", () => {
    try {
      loadConfig({ PORT: "eighty", DATABASE_URL: "mysql://x", BROKER_DEK_CACHE_TTL_MS: String(2 * 3_600_000), BROKER_ADMIN_TOKEN: "short" });
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      for (const name of ["PORT", "DATABASE_URL", "BROKER_DEK_CACHE_TTL_MS", "BROKER_ADMIN_TOKEN"]) expect(msg).toContain(name);
    }
  });
});
