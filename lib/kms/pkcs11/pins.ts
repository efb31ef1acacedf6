// Token PINs: a secret the broker holds, one file per token in BROKER_PKCS11_PIN_DIR
// (<token label, percent-encoded>.pin, mode 0600, owned by the broker's user; a trailing newline is
// ignored). Read at each login, so the vendor can replace a PIN without a restart. Never logged,
// never returned by any API. A PIN the token rejected is not offered again until the file changes
// or PIN_RETRY_MS has passed: HSMs lock a PIN after a few wrong attempts (SO unlock needed), and a
// probe every few seconds would reach that limit in a minute.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { KmsError } from "../types";
import { pinFileName } from "./uri";

const PIN_RETRY_MS = 60_000;

export class PinStore {
  private readonly rejected = new Map<string, { digest: string; at: number }>();

  constructor(private readonly dir: string) {}

  /** The token's PIN, or throws `unavailable` (a vendor configuration fault, never a lock) if there is none. */
  read(token: string): string {
    let text: string;
    try {
      text = readFileSync(path.join(this.dir, pinFileName(token)), "utf8");
    } catch {
      throw new KmsError("unavailable", "pkcs11", `no PIN is configured for token "${token}" (the vendor must add ${pinFileName(token)} to BROKER_PKCS11_PIN_DIR)`, {
        providerCode: "pin_missing",
        vendorFault: "credentials_rejected",
      });
    }
    const pin = text.replace(/\r?\n$/, "");
    if (!pin) throw new KmsError("unavailable", "pkcs11", `the PIN file of token "${token}" is empty`, { providerCode: "pin_missing", vendorFault: "credentials_rejected" });
    return pin;
  }

  has(token: string): boolean {
    try {
      this.read(token);
      return true;
    } catch {
      return false;
    }
  }

  /** True while this exact PIN was rejected recently: do not try it again yet. */
  recentlyRejected(token: string, pin: string, now = Date.now()): boolean {
    const r = this.rejected.get(token);
    return Boolean(r && r.digest === digest(pin) && now - r.at < PIN_RETRY_MS);
  }

  markRejected(token: string, pin: string): void {
    this.rejected.set(token, { digest: digest(pin), at: Date.now() });
  }

  markAccepted(token: string): void {
    this.rejected.delete(token);
  }
}

function digest(pin: string): string {
  return createHash("sha256").update(pin).digest("hex");
}
