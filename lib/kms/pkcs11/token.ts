// One token of the vendor's PKCS#11 module: finding its slot by label, a small pool of sessions,
// the user login with the PIN the broker holds, and the periodic PIN proof.
//
// Login state is per token and process, shared by every session (PKCS#11 §5.6): a PIN changed
// elsewhere does not log out the broker's sessions, so a changed PIN only shows when the broker
// logs in again. The pool therefore logs out and in again once per PIN check interval (default:
// the probe interval), draining in-flight operations first: a changed or locked PIN is then
// noticed within one interval.
//
// pkcs11js calls are synchronous native calls on the event loop, except C_EncryptAsync /
// C_DecryptAsync, which run on a libuv worker. The synchronous ones (slot and token info,
// C_OpenSession, C_Login, C_FindObjects, C_GetAttributeValue, C_*Init) are short on a local module
// (tens of microseconds on SoftHSM2) but are a round trip on a network HSM client: they block the
// whole process for that time and cannot be interrupted, so they are kept out of the per-request
// path (key handles are cached; login happens once per interval). The worker calls are bounded by
// the KMS timeout; one that overruns leaves its session busy until the module returns, and that
// session is then closed, not reused.
import { KmsError } from "../types";
import { CKR, ckrOf, classifyPkcs11Error, SESSION_RESET_CODES, tokenRemoved } from "./classify";
import type * as P11 from "pkcs11js";
import { pkcs11js, trimPadded } from "./module";
import type { PinStore } from "./pins";

type Handle = Buffer;

export interface TokenOptions {
  sessions: number;
  pinCheckMs: number;
  timeoutMs: number;
}

export interface Pkcs11Counters {
  encrypt: number;
  decrypt: number;
  login: number;
  findObjects: number;
}

export class TokenSessions {
  private slot: Handle | null = null;
  private readonly idle: Handle[] = [];
  private open = 0;
  private readonly waiters: Array<() => void> = [];
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private reauth: Promise<void> | null = null;
  private loggedInAt = 0;
  /**
   * The session that logs in and stays open: closing a token's last session logs the application
   * out (PKCS#11 §5.6), which would silently hide the key from every pooled session.
   */
  private anchor: Handle | null = null;
  private readonly abandoned = new WeakSet<Handle>();
  /** Cleared on every re-login and session reset: handles of private objects do not outlive a logout. */
  readonly keyHandles = new Map<string, Handle>();

  constructor(
    private readonly lib: P11.PKCS11,
    readonly label: string,
    private readonly serial: string | null,
    private readonly pins: PinStore,
    private readonly opts: TokenOptions,
    private readonly counters: Pkcs11Counters,
  ) {}

  private where(): string {
    return ` (token "${this.label}")`;
  }

  /** The slot holding this token; null when no slot has it (the caller decides what that means). */
  findSlot(): Handle | null {
    let unreadable: Error | null = null;
    for (const slot of this.lib.C_GetSlotList(true)) {
      let info: P11.TokenInfo;
      try {
        info = this.lib.C_GetTokenInfo(slot);
      } catch (e) {
        // Another slot failing says nothing about ours; but if ours is not found, that slot might be it.
        unreadable = e instanceof Error ? e : new Error(String(e));
        continue;
      }
      if (trimPadded(info.label) === this.label && (!this.serial || trimPadded(info.serialNumber) === this.serial)) return slot;
    }
    if (unreadable) throw unreadable;
    return null;
  }

  /** Proves the token is still there and answering: a removed token is a revocation, a failing module an outage. */
  checkPresent(): void {
    try {
      if (this.slot) {
        const info = this.lib.C_GetTokenInfo(this.slot);
        if (trimPadded(info.label) === this.label) return;
      }
      this.slot = this.findSlot();
    } catch (e) {
      if (ckrOf(e) === CKR.TOKEN_NOT_PRESENT || ckrOf(e) === 0x03 /* CKR_SLOT_ID_INVALID */) this.slot = null;
      else throw classifyPkcs11Error(e, this.where());
    }
    if (!this.slot) throw tokenRemoved(this.where());
  }

  /** Throws CKR_USER_NOT_LOGGED_IN (an outage; the next call logs in again) when `session` lost the login. */
  checkLoggedIn(session: Handle): void {
    const state = this.lib.C_GetSessionInfo(session).state;
    // CKS_RO_USER_FUNCTIONS (1), CKS_RW_USER_FUNCTIONS (3); pkcs11js exports no CKS_* constants.
    if (state === 1 || state === 3) return;
    this.loggedInAt = 0;
    throw Object.assign(new Error("CKR_USER_NOT_LOGGED_IN"), { code: CKR.USER_NOT_LOGGED_IN });
  }

  /** Runs `fn` on a logged-in session of its own; a session the module broke is closed and replaced. */
  async use<T>(fn: (session: Handle, bound: <R>(p: Promise<R>, what: string) => Promise<R>) => Promise<T>): Promise<T> {
    if (this.reauth) await this.reauth;
    if (!this.slot) this.checkPresent();
    if (Date.now() - this.loggedInAt >= this.opts.pinCheckMs) await this.relogin();
    // Counted before waiting for a session, so that a re-login drains this call too.
    this.inFlight++;
    let session: Handle | null = null;
    let broken = false;
    try {
      session = await this.acquire();
      const s = session;
      return await fn(s, (p, what) => this.bounded(s, p, what));
    } catch (e) {
      const code = ckrOf(e);
      if (code !== undefined && SESSION_RESET_CODES.has(code)) broken = true;
      if (code === CKR.USER_NOT_LOGGED_IN) this.loggedInAt = 0;
      if (code === CKR.TOKEN_NOT_PRESENT || code === CKR.DEVICE_REMOVED) this.reset();
      throw e;
    } finally {
      this.inFlight--;
      if (session && !this.abandoned.has(session)) this.release(session, broken);
      if (this.inFlight === 0 && this.drained) this.drained();
    }
  }

  /**
   * Bounds a worker-thread call. On timeout the caller gets `unavailable` at once; the session
   * stays out of the pool until the module returns, and is then closed rather than reused.
   */
  private async bounded<R>(session: Handle, p: Promise<R>, what: string): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.abandoned.add(session);
            void p.then(
              () => this.release(session, true),
              () => this.release(session, true),
            );
            reject(new KmsError("unavailable", "pkcs11", `${what} on token "${this.label}" took longer than ${this.opts.timeoutMs} ms`, { providerCode: "timeout" }));
          }, this.opts.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs out and in again with the PIN read fresh: the PIN proof. Exclusive: waits for in-flight operations. */
  private relogin(): Promise<void> {
    if (this.reauth) return this.reauth;
    const run = async () => {
      try {
        if (this.inFlight > 0) await new Promise<void>((r) => (this.drained = r));
        this.drained = null;
        const pin = this.pins.read(this.label);
        if (this.pins.recentlyRejected(this.label, pin)) {
          throw new KmsError("revoked", "pkcs11", `the token rejected the broker's PIN${this.where()}; it is not offered again until the PIN file changes`, {
            reason: "pin_rejected",
            providerCode: "CKR_PIN_INCORRECT",
          });
        }
        this.anchor ??= this.lib.C_OpenSession(this.slot!, pkcs11js.CKF_SERIAL_SESSION);
        const session = this.anchor;
        try {
          this.lib.C_Logout(session);
        } catch (e) {
          // Not logged in (first login, or after a reset) is exactly the state we want here.
          if (ckrOf(e) !== CKR.USER_NOT_LOGGED_IN) throw e;
        }
        this.keyHandles.clear();
        this.loggedInAt = 0;
        this.counters.login++;
        try {
          this.lib.C_Login(session, pkcs11js.CKU_USER, pin);
        } catch (e) {
          const code = ckrOf(e);
          if (code === CKR.PIN_INCORRECT || code === CKR.PIN_LOCKED || code === CKR.PIN_EXPIRED) this.pins.markRejected(this.label, pin);
          if (code !== CKR.USER_ALREADY_LOGGED_IN) throw e;
        }
        this.pins.markAccepted(this.label);
        this.loggedInAt = Date.now();
      } catch (e) {
        if (e instanceof KmsError) throw e;
        const code = ckrOf(e);
        if (code === CKR.TOKEN_NOT_PRESENT || code === CKR.DEVICE_REMOVED) this.reset();
        else if (code !== undefined && SESSION_RESET_CODES.has(code)) this.anchor = null;
        throw classifyPkcs11Error(e, this.where());
      }
    };
    // Cleared in a callback, never synchronously: run() may finish before this assignment.
    const p = run().finally(() => {
      if (this.reauth === p) this.reauth = null;
    });
    this.reauth = p;
    return p;
  }

  private async acquire(): Promise<Handle> {
    for (;;) {
      const s = this.idle.pop();
      if (s) return s;
      if (this.open < this.opts.sessions) {
        this.open++;
        try {
          return this.lib.C_OpenSession(this.slot!, pkcs11js.CKF_SERIAL_SESSION);
        } catch (e) {
          this.open--;
          throw e;
        }
      }
      let timer: NodeJS.Timeout | undefined;
      const got = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        this.waiters.push(wake);
        timer = setTimeout(() => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(false);
        }, this.opts.timeoutMs);
      });
      if (!got) throw new KmsError("unavailable", "pkcs11", `all ${this.opts.sessions} sessions of token "${this.label}" stayed busy for ${this.opts.timeoutMs} ms`, { providerCode: "session_pool_timeout" });
    }
  }

  private release(session: Handle, close: boolean): void {
    if (close) {
      this.open--;
      this.keyHandles.clear();
      try {
        this.lib.C_CloseSession(session);
      } catch {
        // The module already considers it gone (that is usually why it is being closed).
      }
    } else {
      this.idle.push(session);
    }
    this.waiters.shift()?.();
  }

  /** Forgets the slot and every session: the next call finds the token again and logs in. */
  private reset(): void {
    this.slot = null;
    this.anchor = null;
    this.loggedInAt = 0;
    this.keyHandles.clear();
    this.idle.length = 0;
    this.open = this.inFlight;
  }

  close(): void {
    for (const s of [...this.idle.splice(0), ...(this.anchor ? [this.anchor] : [])]) {
      try {
        this.lib.C_CloseSession(s);
      } catch {
        // Shutting down; the module may be gone already.
      }
    }
  }
}
