// The tenant's pkcs11: key reference (RFC 7512) and the CKR classification: pure functions, so
// every accepted and refused spelling is listed here.
import { describe, expect, test } from "vitest";
import { classifyPkcs11Error, CKR } from "@/lib/kms/pkcs11/classify";
import { formatPkcs11Uri, parsePkcs11Uri, pinFileName } from "@/lib/kms/pkcs11/uri";
import { KmsError } from "@/lib/kms/types";

const canonical = (uri: string) => formatPkcs11Uri(parsePkcs11Uri(uri));

describe("pkcs11: URI", () => {
  test("accepted spellings and their one canonical form", () => {
    expect(canonical("pkcs11:token=t1;object=k1")).toBe("pkcs11:token=t1;object=k1");
    expect(canonical("PKCS11:object=k1;TOKEN=t1;type=secret-key")).toBe("pkcs11:token=t1;object=k1");
    expect(canonical("pkcs11:token=My%20Token;id=%01%a2")).toBe("pkcs11:token=My%20Token;id=%01%A2");
    expect(canonical("pkcs11:token=t1;serial=43c15d559e296f1a;object=k%2D1;id=%01")).toBe("pkcs11:token=t1;serial=43c15d559e296f1a;object=k-1;id=%01");
    // RFC 7512's own example characters in a label.
    expect(parsePkcs11Uri("pkcs11:token=Software%20PKCS%2311%20softtoken;object=my-key").token).toBe("Software PKCS#11 softtoken");
    expect(parsePkcs11Uri("pkcs11:token=t;object=%C3%A9t%C3%A9").object).toBe("été");
    expect(parsePkcs11Uri("pkcs11:token=t;id=%00%ff").id).toEqual(Buffer.from([0, 255]));
  });

  test.each([
    ["", "empty"],
    ["token=t1;object=k1", 'must start with "pkcs11:"'],
    ["pkcs11:object=k1", '"token" (the token label) is required'],
    ["pkcs11:token=t1", 'name the key by "object"'],
    ["pkcs11:token=t1;object=k1?pin-value=1234", '"pin-value" is not accepted'],
    ["pkcs11:token=t1;object=k1?pin-source=file:/etc/pin", '"pin-source" is not accepted'],
    ["pkcs11:token=t1;object=k1?module-path=/tmp/evil.so", '"module-path" is not accepted'],
    ["pkcs11:token=t1;object=k1?module-name=evil", '"module-name" is not accepted'],
    ["pkcs11:token=t1;object=k1?x=1", "query attributes are not accepted"],
    ["pkcs11:token=t1;object=k1#frag", "fragment"],
    ["pkcs11:token=t1;slot-id=3;object=k1", 'attribute "slot-id" is not accepted'],
    ["pkcs11:token=t1;library-manufacturer=x;object=k1", 'attribute "library-manufacturer"'],
    ["pkcs11:token=t1;token=t2;object=k1", "appears twice"],
    ["pkcs11:token=t1;object=k1;type=private", '"type" must be secret-key'],
    ["pkcs11:token=t1;object=k 1", "whitespace"],
    ["pkcs11:token=t1;object=k/1", "must be percent-encoded"],
    ["pkcs11:token=t1;object=%zz", "must be percent-encoded"],
    ["pkcs11:token=t1;object=%00", "control characters"],
    ["pkcs11:token=t1;object=%ff", "not valid UTF-8"],
    ["pkcs11:token=t1;object=", "is empty"],
    [`pkcs11:token=${"a".repeat(33)};object=k`, "longer than 32 bytes"],
    ["pkcs11:token=t1;object", "not an attribute=value pair"],
  ])("%j is refused (%s)", (uri, why) => {
    expect(() => parsePkcs11Uri(uri)).toThrow(KmsError);
    expect(() => parsePkcs11Uri(uri)).toThrow(why);
  });

  test("PIN file names cannot leave the PIN directory", () => {
    expect(pinFileName("t1")).toBe("t1.pin");
    expect(pinFileName("../etc/passwd")).toBe("..%2Fetc%2Fpasswd.pin");
    expect(pinFileName("My Token")).toBe("My%20Token.pin");
  });
});

describe("CKR classification", () => {
  const err = (code: number) => Object.assign(new Error(`CKR:${code}`), { code });
  test.each([
    [CKR.KEY_FUNCTION_NOT_PERMITTED, "revoked", "disabled"],
    [CKR.PIN_INCORRECT, "revoked", "pin_rejected"],
    [CKR.PIN_LOCKED, "revoked", "pin_rejected"],
    [CKR.PIN_EXPIRED, "revoked", "pin_rejected"],
    [CKR.TOKEN_NOT_PRESENT, "revoked", "token_removed"],
    [CKR.DEVICE_REMOVED, "revoked", "token_removed"],
    [CKR.DEVICE_ERROR, "unavailable", undefined],
    [CKR.GENERAL_ERROR, "unavailable", undefined],
    [CKR.SESSION_HANDLE_INVALID, "unavailable", undefined],
    [CKR.DEVICE_MEMORY, "unavailable", undefined],
    [CKR.FUNCTION_FAILED, "unavailable", undefined],
    [CKR.MECHANISM_PARAM_INVALID, "invalid", undefined],
  ])("0x%s -> %s %s", (code, kind, reason) => {
    const e = classifyPkcs11Error(err(code));
    expect(e.kind).toBe(kind);
    expect(e.reason).toBe(reason);
  });

  test("an error without a CKR code (the native binding failed) is an outage", () => {
    expect(classifyPkcs11Error(new TypeError("boom")).kind).toBe("unavailable");
  });
});
