// Issue 10 #4, the classification rules on their own: which refusals name the vendor's own
// identity (never a lock) and which are the tenant's (a lock). Message formats are those of the
// real services (KMS-NOTES.md sections 1.4 and 2.6).
import { describe, expect, test } from "vitest";
import { callerArnInAccessDenied, classifyAwsError, principalIdentity } from "@/lib/kms/classify-aws";
import { classifyAzureError } from "@/lib/kms/classify-azure";
import { classifyGcpError } from "@/lib/kms/gcp";

const KEY = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const denied = (caller: string, tail = "because no resource-based policy allows the kms:Decrypt action") =>
  Object.assign(new Error(`User: ${caller} is not authorized to perform: kms:Decrypt on resource: ${KEY} ${tail}`), {
    name: "AccessDeniedException",
    $metadata: { httpStatusCode: 400 },
  });

describe("AWS", () => {
  const ROLE = "arn:aws:iam::111111111111:role/cmek-broker";

  test("the caller ARN is read from a real AccessDenied message", () => {
    expect(callerArnInAccessDenied(denied(ROLE).message)).toBe(ROLE);
    expect(callerArnInAccessDenied("Rate exceeded")).toBeNull();
  });

  test("an assumed-role session of the configured role (any path) is the same principal", () => {
    expect(principalIdentity("arn:aws:sts::111111111111:assumed-role/cmek-broker/i-0abc")).toBe(principalIdentity(ROLE));
    expect(principalIdentity("arn:aws:iam::111111111111:role/service/cmek-broker")).toBe(principalIdentity(ROLE));
    expect(principalIdentity("arn:aws:iam::333333333333:role/cmek-broker")).not.toBe(principalIdentity(ROLE));
  });

  test("AccessDenied naming another caller is a vendor fault; naming the broker (or with no principal configured) is a revocation", () => {
    expect(classifyAwsError(denied("arn:aws:iam::333333333333:role/cmek-broker-staging"), "Decrypt", { expectedPrincipalArn: ROLE })).toMatchObject({
      kind: "unavailable",
      detail: { vendorFault: "wrong_identity", providerCode: "AccessDeniedException" },
    });
    expect(classifyAwsError(denied("arn:aws:sts::111111111111:assumed-role/cmek-broker/i-0abc"), "Decrypt", { expectedPrincipalArn: ROLE })).toMatchObject({
      kind: "revoked",
      reason: "access_denied",
    });
    expect(classifyAwsError(denied(ROLE, "with an explicit deny in a resource-based policy"), "Decrypt", { expectedPrincipalArn: ROLE }).kind).toBe("revoked");
    expect(classifyAwsError(denied("arn:aws:iam::333333333333:role/x"), "Decrypt").kind).toBe("revoked");
  });

  test("unknown access keys and bad signatures are vendor credential faults", () => {
    for (const name of ["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"]) {
      expect(classifyAwsError(Object.assign(new Error("x"), { name }), "Encrypt")).toMatchObject({ kind: "unavailable", detail: { vendorFault: "credentials_rejected" } });
    }
  });
});

describe("Azure and GCP", () => {
  const APP = "a0a0a0a0-0000-4000-8000-00000000b40c";
  const forbidden = (appid: string) =>
    Object.assign(new Error(`The user, group or application 'appid=${appid};oid=00000000-0000-0000-0000-000000000001;iss=https://sts.windows.net/t/' does not have keys unwrapKey permission on key vault 'v;location=westeurope'.`), {
      name: "RestError",
      statusCode: 403,
      code: "Forbidden",
      details: { error: { code: "Forbidden", innerError: { code: "AccessDenied" } } },
    });

  test("Azure: a 403 naming another application is a vendor fault, naming the broker's app a revocation; 401 is rejected credentials", () => {
    expect(classifyAzureError(forbidden("b1b1b1b1-0000-4000-8000-000000000000"), "k", APP)).toMatchObject({ kind: "unavailable", detail: { vendorFault: "wrong_identity" } });
    expect(classifyAzureError(forbidden(APP), "k", APP)).toMatchObject({ kind: "revoked", reason: "access_denied" });
    expect(classifyAzureError(Object.assign(new Error("no"), { statusCode: 401, code: "Unauthorized" }), "k", APP)).toMatchObject({
      kind: "unavailable",
      detail: { vendorFault: "credentials_rejected" },
    });
    // A token endpoint that does not answer is an outage, not a credential fault.
    expect(classifyAzureError(Object.assign(new Error("timeout"), { name: "AuthenticationError", statusCode: 503 }), "k", APP).detail.vendorFault).toBeUndefined();
  });

  test("GCP: UNAUTHENTICATED is a vendor credential fault; PERMISSION_DENIED a revocation", () => {
    expect(classifyGcpError(Object.assign(new Error("16 UNAUTHENTICATED"), { code: 16 }))).toMatchObject({ kind: "unavailable", detail: { vendorFault: "credentials_rejected" } });
    expect(classifyGcpError(Object.assign(new Error("7 PERMISSION_DENIED"), { code: 7 }))).toMatchObject({ kind: "revoked", reason: "access_denied" });
  });
});
