// Prepares the console's auth settings before Next.js serves anything: next-auth (getAuthOptions)
// and the API's session resolver must use the same secret. The configuration schema has already
// checked it (and NEXTAUTH_URL): both are required in production outside the demo.
import { secretFromEnvOrDataDir } from "../config/data-dir-secret";
import type { BrokerConfig } from "../config/env";
import type { Database } from "../db/database";
import type { ConsoleSessionResolver } from "./caller";
import { isSecureConsole } from "./config-shared";
import { createConsoleSessionResolver } from "./console-session";

/**
 * The console's session secret: the configured one, else (demo, development, tests) one generated
 * once and kept in DATA_DIR, so that a restart keeps everyone signed in and that every reader of
 * this function in the process (the API's resolver, next-auth inside Next.js) gets the same value.
 */
export function ensureNextAuthSecret(config: BrokerConfig): string {
  return secretFromEnvOrDataDir(config.NEXTAUTH_SECRET, config.DATA_DIR, "nextauth-secret");
}

/** Returns the API's console-session resolver, with the same secret and cookie settings as next-auth. */
export function prepareConsoleAuth(config: BrokerConfig, db: Database): ConsoleSessionResolver {
  const secret = ensureNextAuthSecret(config);
  if (!config.NEXTAUTH_URL && !process.env.AUTH_TRUST_HOST) {
    // The one write to the environment, before Next.js starts: next-auth v4 takes its origin only from
    // process.env (NEXTAUTH_URL, else the Host header when AUTH_TRUST_HOST is set). Without a configured
    // URL (the local demo, development; production requires NEXTAUTH_URL) the console is reached as
    // localhost or 127.0.0.1 alike, so next-auth takes the origin from the Host header.
    process.env.AUTH_TRUST_HOST = "true";
  }
  return createConsoleSessionResolver(db, { secret, secureCookies: isSecureConsole(config), publicOrigin: config.NEXTAUTH_URL });
}
