// A secret from the environment, or else one generated once and kept in DATA_DIR (mode 0600), so a
// restart reads the same value back. A file holding fewer than 32 characters is replaced.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export function secretFromEnvOrDataDir(configured: string | undefined, dataDir: string, fileName: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, fileName);
  if (existsSync(file)) {
    const s = readFileSync(file, "utf8").trim();
    if (s.length >= 32) return s;
  }
  mkdirSync(dataDir, { recursive: true });
  const s = randomBytes(32).toString("base64url");
  writeFileSync(file, s + "\n", { mode: 0o600 });
  return s;
}
