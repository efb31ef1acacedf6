import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig, loadDatabaseConfig } from "@/lib/config/env";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TOKEN = "x".repeat(32);
/** A production deployment that is not the demo, with everything it must set. */
const PRODUCTION = { DATABASE_URL: "postgresql://db/x", BROKER_ADMIN_TOKEN: TOKEN, NEXTAUTH_SECRET: "s".repeat(32), NEXTAUTH_URL: "https://cmek.example.com" };

/** The ConfigError's message for a source, or a failure if it loads. */
function problems(source: Record<string, string>): string {
  try {
    loadConfig(source);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  test("nothing configured is the demo: embedded database and emulators", () => {
    const c = loadConfig({});
    expect(c.demo).toBe(true);
    expect(c.emulators).toBe(true);
    expect(c.PORT).toBe(3000);
    expect(c.BROKER_DEK_CACHE_TTL_MS).toBe(300_000);
    expect(c.BROKER_PROBE_INTERVAL_MS).toBe(30_000);
    expect(c.BROKER_CONSOLE).toBe("on");
    expect(c.BROKER_WEBHOOK_ALLOW_PRIVATE).toBe("off");
  });

  test("production refuses to start without an admin token", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgresql://db/x" })).toThrow(/BROKER_ADMIN_TOKEN: required in production/);
    const c = loadConfig({ DATABASE_URL: "postgresql://db/x", BROKER_ADMIN_TOKEN: TOKEN, BROKER_CONSOLE: "off" });
    expect(c.demo).toBe(false);
  });

  test("cloud configuration turns the emulators off; BROKER_EMULATORS overrides", () => {
    expect(loadConfig({ AWS_ACCESS_KEY_ID: "AKIA", BROKER_ADMIN_TOKEN: TOKEN, BROKER_CONSOLE: "off" }).emulators).toBe(false);
    expect(loadConfig({ BROKER_EMULATORS: "off" }).emulators).toBe(false);
  });

  test("every invalid variable is reported by name, together", () => {
    const msg = problems({ PORT: "eighty", DATABASE_URL: "mysql://x", BROKER_DEK_CACHE_TTL_MS: String(2 * 3_600_000), BROKER_ADMIN_TOKEN: "short" });
    for (const name of ["PORT", "DATABASE_URL", "BROKER_DEK_CACHE_TTL_MS", "BROKER_ADMIN_TOKEN"]) expect(msg).toContain(name);
  });

  test("field errors, cross-field rules and production rules are reported in one error, one line per problem", () => {
    const msg = problems({
      PORT: "eighty",
      BROKER_CONSOLE: "maybe",
      DATABASE_URL: "postgresql://db/x",
      BROKER_OIDC_ISSUER: "https://idp.example.com",
      GCP_KMS_INSECURE_TOKEN: "t",
    });
    expect(msg.split("\n")[0]).toBe("invalid configuration:");
    // BROKER_CONSOLE is invalid, so the console rules cannot be judged; the field errors, the
    // cross-field rules and the admin token are all there.
    for (const name of ["PORT", "BROKER_CONSOLE", "BROKER_OIDC_ISSUER", "GCP_KMS_INSECURE_TOKEN"]) expect(msg).toMatch(new RegExp(`^  ${name}: `, "m"));
    const all = problems({ DATABASE_URL: "postgresql://db/x", BROKER_OIDC_CLIENT_ID: "c", GCP_KMS_ENDPOINT: "http://x/" });
    for (const name of ["BROKER_OIDC_ISSUER", "GCP_KMS_ENDPOINT", "BROKER_ADMIN_TOKEN", "NEXTAUTH_SECRET", "NEXTAUTH_URL"]) expect(all).toMatch(new RegExp(`^  ${name}: `, "m"));
    expect(all.split("\n")).toHaveLength(6);
  });

  test("a production deployment with everything set loads, and is not the demo", () => {
    const c = loadConfig(PRODUCTION);
    expect(c.demo).toBe(false);
    expect(c.NEXTAUTH_URL).toBe("https://cmek.example.com");
  });

  test("production with the console needs NEXTAUTH_SECRET and NEXTAUTH_URL; without the console it does not", () => {
    const { NEXTAUTH_SECRET: _s, NEXTAUTH_URL: _u, ...noConsoleAuth } = PRODUCTION;
    const msg = problems(noConsoleAuth);
    expect(msg).toMatch(/^ {2}NEXTAUTH_SECRET: required in production for the console/m);
    expect(msg).toMatch(/^ {2}NEXTAUTH_URL: required in production for the console/m);
    expect(msg).not.toContain("BROKER_ADMIN_TOKEN");
    expect(loadConfig({ ...noConsoleAuth, BROKER_CONSOLE: "off" }).BROKER_CONSOLE).toBe("off");
  });

  test("the production rules do not apply to the demo, development or tests", () => {
    expect(loadConfig({ BROKER_DEMO: "on", DATABASE_URL: "postgresql://db/x" }).demo).toBe(true);
    expect(loadConfig({ NODE_ENV: "development", DATABASE_URL: "postgresql://db/x" }).demo).toBe(false);
    expect(loadConfig({ NODE_ENV: "test", DATABASE_URL: "postgresql://db/x" }).demo).toBe(false);
  });

  test("NEXTAUTH_SECRET must be at least 32 characters and NEXTAUTH_URL an http(s) URL, in every mode", () => {
    const msg = problems({ NEXTAUTH_SECRET: "too-short", NEXTAUTH_URL: "ftp://cmek.example.com" });
    expect(msg).toMatch(/^ {2}NEXTAUTH_SECRET: must be at least 32 characters$/m);
    expect(msg).toMatch(/^ {2}NEXTAUTH_URL: /m);
  });

  test("the three OIDC variables go together", () => {
    expect(problems({ BROKER_OIDC_ISSUER: "https://idp.example.com", BROKER_OIDC_CLIENT_ID: "c" })).toMatch(
      /BROKER_OIDC_ISSUER: set BROKER_OIDC_ISSUER, BROKER_OIDC_CLIENT_ID and BROKER_OIDC_CLIENT_SECRET together/,
    );
    const c = loadConfig({ BROKER_OIDC_ISSUER: "https://idp.example.com", BROKER_OIDC_CLIENT_ID: "c", BROKER_OIDC_CLIENT_SECRET: "s" });
    expect(c.BROKER_OIDC_CLIENT_ID).toBe("c");
  });

  test("GCP_KMS_ENDPOINT is host[:port], and GCP_KMS_INSECURE_TOKEN needs it", () => {
    expect(problems({ GCP_KMS_ENDPOINT: "https://kms.example.com" })).toMatch(/GCP_KMS_ENDPOINT: must be host or host:port/);
    expect(problems({ GCP_KMS_INSECURE_TOKEN: "t" })).toMatch(/GCP_KMS_INSECURE_TOKEN: only makes sense with GCP_KMS_ENDPOINT/);
    expect(loadConfig({ GCP_KMS_ENDPOINT: "127.0.0.1:4599", GCP_KMS_INSECURE_TOKEN: "t", BROKER_DEMO: "on" }).GCP_KMS_ENDPOINT).toBe("127.0.0.1:4599");
  });

  test("list variables are arrays: comma-separated, trimmed, empty entries dropped", () => {
    const c = loadConfig({ AZURE_KEYVAULT_ALLOWED_HOSTS: " .vault.azure.net , ,localhost:4598,", BROKER_SNS_CERT_HOSTS: "sns.local:8443", BROKER_SNS_TOPIC_ARNS: "arn:a, arn:b" });
    expect(c.AZURE_KEYVAULT_ALLOWED_HOSTS).toEqual([".vault.azure.net", "localhost:4598"]);
    expect(c.BROKER_SNS_CERT_HOSTS).toEqual(["sns.local:8443"]);
    expect(c.BROKER_SNS_TOPIC_ARNS).toEqual(["arn:a", "arn:b"]);
    const d = loadConfig({});
    expect(d.AZURE_KEYVAULT_ALLOWED_HOSTS).toEqual([".vault.azure.net", ".managedhsm.azure.net"]);
    expect(d.BROKER_SNS_CERT_HOSTS).toEqual([]);
    expect(d.BROKER_SNS_TOPIC_ARNS).toEqual([]);
  });

  test("BROKER_CONSOLE and BROKER_WEBHOOK_ALLOW_PRIVATE are on/off switches", () => {
    const msg = problems({ BROKER_CONSOLE: "no", BROKER_WEBHOOK_ALLOW_PRIVATE: "yes" });
    expect(msg).toMatch(/^ {2}BROKER_CONSOLE: /m);
    expect(msg).toMatch(/^ {2}BROKER_WEBHOOK_ALLOW_PRIVATE: /m);
    expect(loadConfig({ BROKER_WEBHOOK_ALLOW_PRIVATE: "on" }).BROKER_WEBHOOK_ALLOW_PRIVATE).toBe("on");
  });

  test("every variable of the schema is in the README's configuration table", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("### Console"));
    const missing = CONFIG_VARIABLES.filter((name) => !table.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  test("the migration script's configuration needs only the database variables", () => {
    expect(loadDatabaseConfig({ DATABASE_URL: "postgresql://db/x", NODE_ENV: "production" })).toEqual({ DATABASE_URL: "postgresql://db/x", DATA_DIR: "./data" });
    expect(() => loadDatabaseConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL: must be a postgres/);
  });
});

describe("a bad configuration at start", () => {
  const run = promisify(execFile);
  const badEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NODE_ENV: "production" as const, PORT: "eighty", DATABASE_URL: "postgresql://db/x" };

  for (const entry of ["server.ts", "scripts/start.ts", "scripts/db-migrate.ts"]) {
    test(`${entry} prints the problems alone, without a stack trace, and exits 1`, async () => {
      const env = entry === "scripts/db-migrate.ts" ? { ...badEnv, DATABASE_URL: "mysql://x" } : badEnv;
      const r = await run(process.execPath, ["--import", "tsx", entry], { cwd: ROOT, env, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? "" }),
      );
      expect(r.code).toBe(1);
      const expected =
        entry === "scripts/db-migrate.ts"
          ? "invalid configuration:\n  DATABASE_URL: must be a postgres:// or postgresql:// URL\n"
          : [
              "invalid configuration:",
              "  PORT: Invalid input: expected number, received NaN",
              "  BROKER_ADMIN_TOKEN: required in production (set a random value of at least 24 characters, or BROKER_DEMO=on for a throwaway demo)",
              "  NEXTAUTH_SECRET: required in production for the console (a random value of at least 32 characters; or BROKER_CONSOLE=off)",
              "  NEXTAUTH_URL: required in production for the console (its public URL, e.g. https://cmek.example.com; or BROKER_CONSOLE=off)",
              "",
            ].join("\n");
      expect(r.stderr).toBe(expected);
    });
  }
});
