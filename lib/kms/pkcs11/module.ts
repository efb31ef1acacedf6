// One loaded PKCS#11 module per process and path. Cryptoki state (C_Initialize, login state,
// sessions) is per process, not per handle: two broker instances in one process (tests, the
// embedded cluster) must share one initialisation, and only the last one out may C_Finalize.
import * as pkcs11Namespace from "pkcs11js";
import type * as P11 from "pkcs11js";
import { CKR, ckrOf } from "./classify";

/**
 * The binding's exports. pkcs11js is CommonJS whose exports Node's ESM loader cannot detect: under
 * tsx/Node the namespace holds only `default` (and PKCS11), under vitest every name; take either.
 */
export const pkcs11js: typeof pkcs11Namespace = (pkcs11Namespace as unknown as { default?: typeof pkcs11Namespace }).default ?? pkcs11Namespace;

interface Loaded {
  lib: P11.PKCS11;
  users: number;
}

const loaded = new Map<string, Loaded>();

export function acquireModule(path: string): P11.PKCS11 {
  let entry = loaded.get(path);
  if (!entry) {
    const lib = new pkcs11js.PKCS11();
    lib.load(path);
    try {
      // OS locking: the broker calls the module from the main thread and from libuv workers (C_*Async).
      lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (e) {
      // Someone else in this process initialised the same library already: that is the state we want.
      if (ckrOf(e) !== CKR.CRYPTOKI_ALREADY_INITIALIZED) throw e;
    }
    entry = { lib, users: 0 };
    loaded.set(path, entry);
  }
  entry.users++;
  return entry.lib;
}

export function releaseModule(path: string): void {
  const entry = loaded.get(path);
  if (!entry) return;
  if (--entry.users > 0) return;
  loaded.delete(path);
  try {
    entry.lib.C_Finalize();
    entry.lib.close();
  } catch {
    // Shutting down: a module that fails to finalise has nothing left for us to release.
  }
}

/** CK_TOKEN_INFO strings are blank-padded fixed-width fields. */
export function trimPadded(s: string): string {
  return s.replace(/[\s\0]+$/, "");
}
