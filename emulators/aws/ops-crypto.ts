// Encrypt, GenerateDataKey and Decrypt.
import { randomBytes } from "node:crypto";
import { blobKeyId, blobMaterialId, openBlob, sealBlob } from "./blob";
import { AwsError, blob, checkAlgorithm, str, stringMap, validationError } from "./input";
import type { Operation } from "./service";
import { currentMaterialId, type KeyRecord } from "./store";

export const cryptoOperations: Record<string, Operation> = {
  Encrypt(svc, body, caller) {
    const plaintext = blob(body, "Plaintext", 1, 4096, true)!;
    const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
    checkAlgorithm(body);
    const key = svc.key(body, caller, "Encrypt", ctx);
    svc.requireUsable(key);
    svc.dryRun(body);
    // KeyMaterialId: listed on EncryptResponse in some AWS SDKs' models; @aws-sdk/client-kms 3.1164 does not model it there and drops it.
    return { CiphertextBlob: sealBlob(key, plaintext, ctx).toString("base64"), KeyId: key.arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT", KeyMaterialId: currentMaterialId(key) };
  },

  GenerateDataKey(svc, body, caller) {
    const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
    const keySpec = str(body, "KeySpec");
    const n = body.NumberOfBytes;
    if ((keySpec === undefined) === (n === undefined || n === null)) {
      throw new AwsError("ValidationException", "Please specify either number of bytes or key spec.");
    }
    let length: number;
    if (keySpec !== undefined) {
      if (keySpec !== "AES_256" && keySpec !== "AES_128") throw validationError("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]");
      length = keySpec === "AES_256" ? 32 : 16;
    } else {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 1024) throw validationError("numberOfBytes", "Member must be between 1 and 1024");
      length = n;
    }
    const key = svc.key(body, caller, "GenerateDataKey", ctx);
    svc.requireUsable(key);
    svc.dryRun(body);
    const plaintext = randomBytes(length);
    return {
      CiphertextBlob: sealBlob(key, plaintext, ctx).toString("base64"),
      Plaintext: plaintext.toString("base64"),
      KeyId: key.arn,
      KeyMaterialId: currentMaterialId(key),
    };
  },

  Decrypt(svc, body, caller) {
    const ct = blob(body, "CiphertextBlob", 1, 6144, true)!;
    const ctx = stringMap(body.EncryptionContext, "EncryptionContext");
    checkAlgorithm(body);
    const embedded = blobKeyId(ct);
    const keyIdParam = str(body, "KeyId");
    let key: KeyRecord;
    if (keyIdParam !== undefined) {
      key = svc.key(body, caller, "Decrypt", ctx);
      svc.requireUsable(key);
      if (embedded !== null && embedded !== key.keyId) {
        throw new AwsError("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.");
      }
    } else {
      // The blob carries the full key identity, so cross-account decrypt needs no KeyId.
      const found = embedded === null ? undefined : svc.store.keys.get(embedded);
      if (!found) throw new AwsError("InvalidCiphertextException", "");
      key = found;
      svc.authorize(caller, key, "Decrypt", ctx);
      svc.requireUsable(key);
    }
    svc.dryRun(body);
    const plaintext = openBlob(key, ct, ctx);
    if (!plaintext) throw new AwsError("InvalidCiphertextException", "");
    return { Plaintext: plaintext.toString("base64"), KeyId: key.arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT", KeyMaterialId: blobMaterialId(key, ct) };
  },
};
