// ReEncrypt: decrypts a ciphertext and encrypts the plaintext under another (or the same) key
// inside the emulator, as AWS KMS does, so the caller never sees the plaintext. Permissions as
// AWS checks them: kms:ReEncryptFrom on the source key, kms:ReEncryptTo on the destination key.
import { blobKeyId, blobMaterialId, openBlob, sealBlob } from "./blob";
import { AwsError, blob, str, stringMap } from "./input";
import type { Operation } from "./service";
import { currentMaterialId, type KeyRecord } from "./store";

export const reEncryptOperations: Record<string, Operation> = {
  ReEncrypt(svc, body, caller) {
    const ct = blob(body, "CiphertextBlob", 1, 6144, true)!;
    const srcCtx = stringMap(body.SourceEncryptionContext, "SourceEncryptionContext");
    const dstCtx = stringMap(body.DestinationEncryptionContext, "DestinationEncryptionContext");
    for (const member of ["SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"]) {
      const alg = str(body, member);
      if (alg !== undefined && alg !== "SYMMETRIC_DEFAULT") throw new AwsError("ValidationException", `${member} must be SYMMETRIC_DEFAULT for a symmetric key`);
    }
    const embedded = blobKeyId(ct);
    const sourceParam = str(body, "SourceKeyId");
    let source: KeyRecord;
    if (sourceParam !== undefined) {
      source = svc.resolve(sourceParam, caller);
      if (embedded !== null && embedded !== source.keyId) {
        throw new AwsError("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.");
      }
    } else {
      const found = embedded === null ? undefined : svc.store.keys.get(embedded);
      if (!found) throw new AwsError("InvalidCiphertextException", "");
      source = found;
    }
    svc.authorize(caller, source, "ReEncryptFrom", srcCtx);
    svc.requireUsable(source);
    const destination = svc.resolve(str(body, "DestinationKeyId", true), caller);
    svc.authorize(caller, destination, "ReEncryptTo", dstCtx);
    svc.requireUsable(destination);
    svc.dryRun(body);
    const plaintext = openBlob(source, ct, srcCtx);
    if (!plaintext) throw new AwsError("InvalidCiphertextException", "");
    try {
      return {
        CiphertextBlob: sealBlob(destination, plaintext, dstCtx).toString("base64"),
        SourceKeyId: source.arn,
        KeyId: destination.arn,
        SourceKeyMaterialId: blobMaterialId(source, ct),
        DestinationKeyMaterialId: currentMaterialId(destination),
        SourceEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
        DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      };
    } finally {
      plaintext.fill(0);
    }
  },
};
