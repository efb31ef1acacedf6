// Node and HTTP-client error codes that mean "the KMS could not be reached": always
// `unavailable`, never a revocation, whichever provider's SDK raised them.
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  // @azure/core-rest-pipeline's name for a request that never got an answer.
  "REQUEST_SEND_ERROR",
]);
