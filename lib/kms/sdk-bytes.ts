// Key material the cloud SDKs hand back lives in their own Uint8Arrays (decoded from the response
// body). The broker copies it into a buffer it owns and wipes the SDK's copy at once, so nothing
// but the owned buffer (which the DEK cache zeroes on eviction) holds the DEK.
// The response body text itself (base64 in a JS string) is immutable and cannot be wiped.

/** Copies `bytes` into a fresh Buffer and zeroes `bytes`. */
export function takeSdkBytes(bytes: Uint8Array): Buffer {
  const owned = Buffer.alloc(bytes.byteLength);
  owned.set(bytes);
  bytes.fill(0);
  return owned;
}
