// Prepares the console's auth settings before Next.js serves anything: next-auth reads
// NEXTAUTH_SECRET from the environment, and the API's session resolver must use the same one.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, type BrokerConfig } from "../config/env";
import type { Database } from "../db/database";
import type { ConsoleSessionResolver } from "./caller";
import { isSecureConsole } from "./config-shared";
import { createConsoleSessionResolver } from "./console-session";

export function ensureNextAuthSecret(config: BrokerConfig): string {
  const given = config.NEXTAUTH_SECRET ?? process.env.NEXTAUTH_SECRET;
  if (given) {
    if (given.length < 32) throw new ConfigError("invalid configuration:\n  NEXTAUTH_SECRET: must be at least 32 characters");
    return given;
  }
  if (config.demo) {
    // Persisted so that restarting the demo keeps everyone signed in.
    const file = path.join(config.DATA_DIR, "nextauth-secret");
    if (existsSync(file)) {
      const s = readFileSync(file, "utf8").trim();
      if (s.length >= 32) return s;
    }
    mkdirSync(config.DATA_DIR, { recursive: true });
    const s = randomBytes(32).toString("base64url");
    writeFileSync(file, s + "\n", { mode: 0o600 });
    return s;
  }
  if (config.NODE_ENV === "production") {
    throw new ConfigError("invalid configuration:\n  NEXTAUTH_SECRET: required in production for the console (a random value of at least 32 characters)");
  }
  return randomBytes(32).toString("base64url");
}

/** Sets the environment next-auth reads and returns the API's console-session resolver. */
export function prepareConsoleAuth(config: BrokerConfig, db: Database): ConsoleSessionResolver {
  const secret = ensureNextAuthSecret(config);
  process.env.NEXTAUTH_SECRET = secret;
  if (!process.env.NEXTAUTH_URL && config.NEXTAUTH_URL) process.env.NEXTAUTH_URL = config.NEXTAUTH_URL;
  if (!process.env.NEXTAUTH_URL) {
    if (!config.demo && config.NODE_ENV === "production") {
      throw new ConfigError("invalid configuration:\n  NEXTAUTH_URL: required in production for the console (its public URL, e.g. https://cmek.example.com)");
    }
    // The local demo is reached as localhost or 127.0.0.1 alike; let next-auth take the origin from the Host header.
    process.env.AUTH_TRUST_HOST = "true";
  }
  return createConsoleSessionResolver(db, { secret, secureCookies: isSecureConsole(process.env), publicOrigin: process.env.NEXTAUTH_URL });
}
