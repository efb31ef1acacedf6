// SoftHSM2 as the tenant's HSM, for tests, end-to-end specs and the benchmark: a token store in
// a temporary directory (SOFTHSM2_CONF points there; SoftHSM reads it when the module is
// initialised, so set it before the broker loads the module), tokens made with softhsm2-util,
// and the tenant's own actions on its token (create, delete or disable a key, change the PIN)
// through pkcs11js, as the tenant's HSM client would.
//
// Tenant actions run through the same module as the broker in that process: SoftHSM2 keeps each
// process's token state in memory (a PIN changed by another process is not seen by this one), and
// PKCS#11 login state is per process, so the tenant shares the broker's login and never logs out.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type * as P11 from "pkcs11js";
import { pkcs11js } from "@/lib/kms/pkcs11/module";
import { pinFileName } from "@/lib/kms/pkcs11/uri";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

export function softHsmInstalled(): boolean {
  return existsSync(SOFTHSM_MODULE) && existsSync("/usr/bin/softhsm2-util");
}

export interface TokenHandle {
  label: string;
  pin: string;
}

export class SoftHsm {
  readonly dir: string;
  readonly conf: string;
  readonly pinDir: string;
  private lib: P11.PKCS11 | null = null;

  constructor(dir = mkdtempSync(path.join(tmpdir(), "cmek-softhsm-"))) {
    this.dir = dir;
    this.conf = path.join(dir, "softhsm2.conf");
    this.pinDir = path.join(dir, "pins");
    mkdirSync(path.join(dir, "tokens"), { recursive: true });
    mkdirSync(this.pinDir, { recursive: true, mode: 0o700 });
    writeFileSync(this.conf, `directories.tokendir = ${path.join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  }

  /** The broker's configuration for this token store (and SOFTHSM2_CONF for the module). */
  brokerEnv(): Record<string, string> {
    return { BROKER_PKCS11_MODULE: SOFTHSM_MODULE, BROKER_PKCS11_PIN_DIR: this.pinDir, SOFTHSM2_CONF: this.conf };
  }

  private run(args: string[]): string {
    return execFileSync("softhsm2-util", args, { env: { ...process.env, SOFTHSM2_CONF: this.conf }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /**
   * A new token; its PIN goes into the broker's PIN directory unless `brokerPin` is false.
   * Through the module in this process (C_InitToken on the free slot, C_InitPIN as SO): SoftHSM2
   * fixes a process's slot list at C_Initialize, so a token made by softhsm2-util afterwards is
   * invisible here. Before anything in this process loads the module (the e2e stack, whose broker is
   * another process), `viaCli` uses softhsm2-util instead.
   */
  initToken(label: string, pin = "1234-user", opts: { brokerPin?: boolean; viaCli?: boolean } = {}): TokenHandle {
    const so = "so-secret-9";
    if (opts.viaCli) {
      this.run(["--init-token", "--free", "--label", label, "--so-pin", so, "--pin", pin]);
    } else {
      const lib = this.module();
      const free = lib.C_GetSlotList(true).find((x) => {
        const info = tokenInfo(lib, x);
        return info !== null && (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0;
      });
      if (!free) throw new Error("SoftHSM2 has no free slot");
      // CK_TOKEN_INFO labels are blank-padded to 32 bytes; pkcs11js would pad with NULs.
      lib.C_InitToken(free, so, label.padEnd(32, " "));
      const s = lib.C_OpenSession(free, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_Login(s, pkcs11js.CKU_SO, so);
        lib.C_InitPIN(s, pin);
        lib.C_Logout(s);
      } finally {
        lib.C_CloseSession(s);
      }
    }
    if (opts.brokerPin !== false) writeFileSync(path.join(this.pinDir, pinFileName(label)), `${pin}\n`, { mode: 0o600 });
    return { label, pin };
  }

  /** Deletes the token's files from the store (softhsm2-util --delete-token), as unplugging it would. */
  deleteToken(label: string): void {
    this.run(["--delete-token", "--token", label]);
  }

  private module(): P11.PKCS11 {
    if (!this.lib) {
      process.env.SOFTHSM2_CONF = this.conf;
      const lib = new pkcs11js.PKCS11();
      lib.load(SOFTHSM_MODULE);
      try {
        lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      } catch (e) {
        // The broker in this process initialised it already; that is the shared state we want.
        if ((e as { code?: number }).code !== 0x191) throw e;
      }
      this.lib = lib;
    }
    return this.lib;
  }

  /** A logged-in R/W session on the token, as the tenant's own HSM client. */
  private session<T>(token: TokenHandle, fn: (lib: P11.PKCS11, s: Buffer) => T): T {
    const lib = this.module();
    const slot = lib.C_GetSlotList(true).find((x) => tokenInfo(lib, x)?.label.trim() === token.label);
    if (!slot) throw new Error(`no token ${token.label}`);
    const s = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        lib.C_Login(s, pkcs11js.CKU_USER, token.pin);
      } catch (e) {
        if ((e as { code?: number }).code !== 0x100) throw e; // CKR_USER_ALREADY_LOGGED_IN: the broker's login is ours too
      }
      return fn(lib, s);
    } finally {
      lib.C_CloseSession(s);
    }
  }

  private find(lib: P11.PKCS11, s: Buffer, label: string): Buffer[] {
    lib.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    try {
      return lib.C_FindObjects(s, 10);
    } finally {
      lib.C_FindObjectsFinal(s);
    }
  }

  /** An AES-256 key that never leaves the token; returns the tenant's pkcs11: URI for it. */
  createKey(token: TokenHandle, label: string, id = Buffer.from(label).subarray(0, 8)): string {
    this.session(token, (lib, s) =>
      lib.C_GenerateKey(s, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
      ]),
    );
    return `pkcs11:token=${encodeURIComponent(token.label)};object=${encodeURIComponent(label)}`;
  }

  destroyKey(token: TokenHandle, label: string): void {
    this.session(token, (lib, s) => {
      for (const h of this.find(lib, s, label)) lib.C_DestroyObject(s, h);
    });
  }

  setUsage(token: TokenHandle, label: string, usage: { encrypt?: boolean; decrypt?: boolean }): void {
    this.session(token, (lib, s) => {
      const attrs: P11.Template = [];
      if (usage.encrypt !== undefined) attrs.push({ type: pkcs11js.CKA_ENCRYPT, value: usage.encrypt });
      if (usage.decrypt !== undefined) attrs.push({ type: pkcs11js.CKA_DECRYPT, value: usage.decrypt });
      for (const h of this.find(lib, s, label)) lib.C_SetAttributeValue(s, h, attrs);
    });
  }

  /** The tenant changes its token's user PIN (C_SetPIN); the broker's PIN file keeps the old one. */
  changePin(token: TokenHandle, newPin: string): TokenHandle {
    this.session(token, (lib, s) => lib.C_SetPIN(s, token.pin, newPin));
    return { label: token.label, pin: newPin };
  }

  /** The tenant's ownership proof: a data object cmek-broker-tenant=<value> on the token. */
  writeOwnership(token: TokenHandle, value: string): void {
    this.session(token, (lib, s) =>
      lib.C_CreateObject(s, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: "cmek-broker-tenant" },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(value) },
      ]),
    );
  }

  close(): void {
    // The module stays initialised: the broker in this process may still hold it (one C_Finalize per process, the broker's).
    this.lib = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A deleted token's slot answers CKR_GENERAL_ERROR on SoftHSM2 until the process restarts: skip it. */
function tokenInfo(lib: P11.PKCS11, slot: Buffer): P11.TokenInfo | null {
  try {
    return lib.C_GetTokenInfo(slot);
  } catch {
    return null;
  }
}
