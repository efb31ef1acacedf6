// CreateGrant, RevokeGrant and ListGrants.
import { AwsError, type Body, str, stringMap, validationError } from "./input";
import type { Operation } from "./service";
import type { GrantConstraints } from "./store";

const GRANT_OPERATIONS = new Set([
  "Decrypt",
  "Encrypt",
  "GenerateDataKey",
  "GenerateDataKeyWithoutPlaintext",
  "ReEncryptFrom",
  "ReEncryptTo",
  "CreateGrant",
  "RetireGrant",
  "DescribeKey",
  "Sign",
  "Verify",
  "GetPublicKey",
  "GenerateDataKeyPair",
  "GenerateDataKeyPairWithoutPlaintext",
  "GenerateMac",
  "VerifyMac",
  "DeriveSharedSecret",
]);

function constraints(v: unknown): GrantConstraints | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new AwsError("SerializationException", "Constraints must be an object");
  const c = v as Body;
  const eq = stringMap(c.EncryptionContextEquals, "EncryptionContextEquals");
  const sub = stringMap(c.EncryptionContextSubset, "EncryptionContextSubset");
  return { ...(eq ? { EncryptionContextEquals: eq } : {}), ...(sub ? { EncryptionContextSubset: sub } : {}) };
}

export const grantOperations: Record<string, Operation> = {
  CreateGrant(svc, body, caller) {
    const s = svc.store;
    const grantee = str(body, "GranteePrincipal", true);
    const retiring = str(body, "RetiringPrincipal");
    const name = str(body, "Name");
    const ops = body.Operations;
    if (!/^(arn:aws[a-z-]*:(iam|sts)::\d{12}:.+|\d{12})$/.test(grantee)) {
      throw new AwsError("ValidationException", `Invalid GranteePrincipal: ${grantee}`);
    }
    if (!Array.isArray(ops) || ops.length === 0) throw validationError("operations", "Member must have length greater than or equal to 1");
    for (const o of ops) {
      if (typeof o !== "string" || !GRANT_OPERATIONS.has(o)) throw validationError("operations", `Member must satisfy enum value set: [${[...GRANT_OPERATIONS].join(", ")}]`);
    }
    const c = constraints(body.Constraints);
    const key = svc.key(body, caller, "CreateGrant");
    svc.requireNotPendingDeletion(key);
    const { grantId, grantToken } = s.newGrantId();
    s.grants.set(grantId, {
      grantId,
      grantToken,
      keyId: key.keyId,
      ...(name !== undefined ? { name } : {}),
      granteePrincipal: grantee,
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
      issuingAccount: `arn:aws:iam::${caller.accountId}:root`,
      operations: [...new Set(ops as string[])],
      ...(c ? { constraints: c } : {}),
      creationDate: Date.now() / 1000,
    });
    s.changed();
    return { GrantId: grantId, GrantToken: grantToken };
  },

  RevokeGrant(svc, body, caller) {
    const grantId = str(body, "GrantId", true);
    const key = svc.key(body, caller, "RevokeGrant");
    const g = svc.store.grants.get(grantId);
    if (!g || g.keyId !== key.keyId) throw new AwsError("NotFoundException", `Grant ID ${grantId} not found`);
    svc.store.grants.delete(grantId);
    svc.store.changed();
    return undefined;
  },

  ListGrants(svc, body, caller) {
    const key = svc.key(body, caller, "ListGrants");
    const gid = str(body, "GrantId");
    const gp = str(body, "GranteePrincipal");
    const grants = svc.store.grantsFor(key.keyId).filter((g) => (!gid || g.grantId === gid) && (!gp || g.granteePrincipal === gp));
    return {
      Grants: grants.map((g) => ({
        KeyId: key.arn,
        GrantId: g.grantId,
        ...(g.name !== undefined ? { Name: g.name } : {}),
        CreationDate: g.creationDate,
        GranteePrincipal: g.granteePrincipal,
        ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
        IssuingAccount: g.issuingAccount,
        Operations: g.operations,
        ...(g.constraints ? { Constraints: g.constraints } : {}),
      })),
      Truncated: false,
    };
  },
};
