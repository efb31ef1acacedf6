/** Raised for any ciphertext that fails to open: tampered, another tenant's, another context, unknown format. */
export class InvalidCiphertextError extends Error {
  override readonly name = "InvalidCiphertextError";
  constructor(message = "ciphertext is invalid for this tenant and context") {
    super(message);
  }
}
