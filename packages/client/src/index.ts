// @cmek-broker/client: the typed TypeScript client of the cmek-broker data path.
export { BrokerClient, BATCH_MAX_ITEMS, BATCH_MAX_BYTES, type BrokerClientOptions } from "./client.js";
export * from "./errors.js";
export { Coalescer, type CoalescerOptions, type CoalescerStats } from "./coalescer.js";
export { encryptFields, decryptFields, FIELD_CONTEXT_KEY, type FieldOptions } from "./fields.js";
export { StreamInterruptedError, type StreamOptions, type StreamSource } from "./streams.js";
export { isRetryable, type RetryOptions } from "./retry.js";
export type { TransportOptions } from "./transport.js";
export type * from "./types.js";
export type { StatusResponse, ErrorBody, ErrorCode, EncryptRequest, EncryptResponse, DecryptRequest, DecryptResponse } from "./generated/api.js";
export { ERROR_CODES, MAX_PLAINTEXT_BYTES, MAX_CONTEXT_ENTRIES } from "./generated/api.js";
