// Sorts PKCS#11 return values (CKR_*) into the broker's three classes. Verified against SoftHSM2
// 2.6.1 (see README "PKCS#11"): what the tenant did to its token or key is `revoked`; what the
// device or the module did is `unavailable` and never locks.
import { KmsError, type RevocationReason } from "../types";

export const CKR = {
  GENERAL_ERROR: 0x05,
  FUNCTION_FAILED: 0x06,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  ENCRYPTED_DATA_LEN_RANGE: 0x41,
  KEY_HANDLE_INVALID: 0x60,
  KEY_TYPE_INCONSISTENT: 0x63,
  KEY_FUNCTION_NOT_PERMITTED: 0x68,
  MECHANISM_INVALID: 0x70,
  MECHANISM_PARAM_INVALID: 0x71,
  OBJECT_HANDLE_INVALID: 0x82,
  OPERATION_ACTIVE: 0x90,
  PIN_INCORRECT: 0xa0,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_COUNT: 0xb1,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  AEAD_DECRYPT_FAILED: 0x35,
} as const;

/** The session is unusable after these: the pool closes it and opens a fresh one. */
export const SESSION_RESET_CODES: ReadonlySet<number> = new Set([
  CKR.DEVICE_ERROR,
  CKR.GENERAL_ERROR,
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.OPERATION_ACTIVE,
  CKR.USER_NOT_LOGGED_IN,
]);

export function ckrOf(e: unknown): number | undefined {
  if (e && typeof e === "object" && "code" in e && typeof (e as { code: unknown }).code === "number") return (e as { code: number }).code;
  return undefined;
}

export function ckrName(code: number): string {
  const name = Object.entries(CKR).find(([, v]) => v === code)?.[0];
  return name ? `CKR_${name}` : `0x${code.toString(16)}`;
}

const revoked = (reason: RevocationReason, code: number | string, message: string) =>
  new KmsError("revoked", "pkcs11", message, { reason, providerCode: typeof code === "number" ? ckrName(code) : code });

/** A refusal the tenant caused (key gone, usage cleared, token removed, PIN changed or locked). */
export function revokedFor(code: number, where: string): KmsError | null {
  switch (code) {
    case CKR.KEY_FUNCTION_NOT_PERMITTED:
      return revoked("disabled", code, `the token refused to use the key${where} (CKA_ENCRYPT or CKA_DECRYPT is false)`);
    case CKR.PIN_INCORRECT:
    case CKR.PIN_EXPIRED:
      return revoked("pin_rejected", code, `the token rejected the broker's PIN${where} (changed or expired)`);
    case CKR.PIN_LOCKED:
      return revoked("pin_rejected", code, `the token's user PIN is locked${where}`);
    case CKR.TOKEN_NOT_PRESENT:
    case CKR.DEVICE_REMOVED:
    case CKR.TOKEN_NOT_RECOGNIZED:
      return revoked("token_removed", code, `the token is not present${where}`);
    default:
      return null;
  }
}

/** Anything not explicitly a refusal is the device's or the module's problem: unavailable, never a lock. */
export function classifyPkcs11Error(e: unknown, where = ""): KmsError {
  if (e instanceof KmsError) return e;
  const code = ckrOf(e);
  if (code === undefined) {
    return new KmsError("unavailable", "pkcs11", `PKCS#11 module failed${where}: ${e instanceof Error ? e.message : String(e)}`, { providerCode: "native_error" });
  }
  const r = revokedFor(code, where);
  if (r) return r;
  if (code === CKR.MECHANISM_INVALID || code === CKR.MECHANISM_PARAM_INVALID || code === CKR.KEY_TYPE_INCONSISTENT) {
    // Not a tenant refusal and not transient: the key is no AES key, or the module wants the other
    // CK_GCM_PARAMS layout (BROKER_PKCS11_GCM_PARAMS). Reported as invalid, which never locks.
    return new KmsError("invalid", "pkcs11", `the token cannot do AES-GCM with this key${where}: ${ckrName(code)} (is it an AES key? does the module need BROKER_PKCS11_GCM_PARAMS=v220?)`, {
      providerCode: ckrName(code),
    });
  }
  return new KmsError("unavailable", "pkcs11", `PKCS#11 device or module error${where}: ${ckrName(code)}`, { providerCode: ckrName(code) });
}

export const notFound = (where: string) => revoked("not_found", "object_not_found", `no secret key matching the reference exists on the token${where}`);
export const tokenRemoved = (where: string) => revoked("token_removed", "token_not_found", `no token with this label is present in any slot${where}`);
