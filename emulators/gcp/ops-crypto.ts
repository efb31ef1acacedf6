// Encrypt and Decrypt, with the CRC32C checks the real service performs.
import { crc32c } from "../../lib/kms/crc32c";
import { DECRYPT_FAILED, invalid, notEnabled, RpcError, S } from "./errors";
import { VERSION_RE } from "./names";
import { P, type Handler } from "./service";
import type { CryptoKeyRec, VersionRec } from "./store";
import { bytesOf, checkCrc, CT_FORMAT, CT_OVERHEAD, int64Value, open, seal, versionName } from "./wire";

export const cryptoHandlers: Record<string, Handler> = {
  Encrypt(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.encrypt, name);
    let key: CryptoKeyRec;
    let v: VersionRec | undefined;
    if (VERSION_RE.test(name)) ({ key, v } = svc.getVersion(name));
    else {
      key = svc.getKey(name);
      v = key.primaryId !== null ? key.versions.get(key.primaryId) : undefined;
      if (!v) throw new RpcError(S.FAILED_PRECONDITION, `${name} does not have a primary version.`);
    }
    const plaintext = bytesOf(req.plaintext);
    const aad = bytesOf(req.additionalAuthenticatedData);
    if (plaintext.length === 0) throw invalid("plaintext is required.");
    if (plaintext.length > 65536) throw invalid("plaintext must be at most 65536 bytes.");
    if (aad.length > 65536) throw invalid("additional_authenticated_data must be at most 65536 bytes.");
    const verifiedPlaintextCrc32c = checkCrc(plaintext, req.plaintextCrc32c, "plaintext_crc32c", "plaintext");
    const verifiedAdditionalAuthenticatedDataCrc32c = checkCrc(
      aad,
      req.additionalAuthenticatedDataCrc32c,
      "additional_authenticated_data_crc32c",
      "additional_authenticated_data",
    );
    if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
    const ciphertext = seal(v, plaintext, aad);
    return {
      name: versionName(key, v),
      ciphertext,
      ciphertextCrc32c: int64Value(crc32c(ciphertext)),
      verifiedPlaintextCrc32c,
      verifiedAdditionalAuthenticatedDataCrc32c,
      protectionLevel: "SOFTWARE",
    };
  },

  Decrypt(svc, principal, req) {
    const name = svc.requireName(req);
    svc.authorize(principal, P.decrypt, name);
    const key = svc.getKey(name);
    const ciphertext = bytesOf(req.ciphertext);
    const aad = bytesOf(req.additionalAuthenticatedData);
    if (ciphertext.length === 0) throw invalid("ciphertext is required.");
    checkCrc(ciphertext, req.ciphertextCrc32c, "ciphertext_crc32c", "ciphertext");
    checkCrc(aad, req.additionalAuthenticatedDataCrc32c, "additional_authenticated_data_crc32c", "additional_authenticated_data");
    if (ciphertext.length < CT_OVERHEAD + 1 || ciphertext[0] !== CT_FORMAT) throw invalid(DECRYPT_FAILED);
    const v = key.versions.get(ciphertext.readUInt32BE(1));
    if (!v) throw invalid(DECRYPT_FAILED);
    if (v.state !== "ENABLED") throw notEnabled(versionName(key, v), v.state);
    const plaintext = open(v.material!, ciphertext, aad);
    return {
      plaintext,
      plaintextCrc32c: int64Value(crc32c(plaintext)),
      usedPrimary: v.id === key.primaryId,
      protectionLevel: "SOFTWARE",
    };
  },
};
