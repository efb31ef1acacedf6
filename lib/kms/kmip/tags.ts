// The KMIP 1.x tags and enumeration values this client uses (KMIP 1.4 specification, sections
// 9.1.3.1 and 9.1.3.2; cross-checked with PyKMIP 0.10.0's kmip/core/enums.py).
import type { TtlvItem } from "./ttlv";

export const Tag = {
  Attribute: 0x420008,
  AttributeName: 0x42000a,
  AttributeValue: 0x42000b,
  BatchCount: 0x42000d,
  BatchItem: 0x42000f,
  BlockCipherMode: 0x420011,
  CompromiseOccurrenceDate: 0x420021,
  CryptographicAlgorithm: 0x420028,
  CryptographicLength: 0x42002a,
  CryptographicParameters: 0x42002b,
  CryptographicUsageMask: 0x42002c,
  IvCounterNonce: 0x42003d,
  MaximumResponseSize: 0x420050,
  ObjectType: 0x420057,
  Operation: 0x42005c,
  OperationPolicyName: 0x42005d,
  PaddingMethod: 0x42005f,
  ProtocolVersion: 0x420069,
  ProtocolVersionMajor: 0x42006a,
  ProtocolVersionMinor: 0x42006b,
  QueryFunction: 0x420074,
  RequestHeader: 0x420077,
  RequestMessage: 0x420078,
  RequestPayload: 0x420079,
  ResponseHeader: 0x42007a,
  ResponseMessage: 0x42007b,
  ResponsePayload: 0x42007c,
  ResultMessage: 0x42007d,
  ResultReason: 0x42007e,
  ResultStatus: 0x42007f,
  RevocationReason: 0x420081,
  RevocationReasonCode: 0x420082,
  State: 0x42008d,
  TemplateAttribute: 0x420091,
  TimeStamp: 0x420092,
  UniqueBatchItemId: 0x420093,
  UniqueIdentifier: 0x420094,
  VendorIdentification: 0x42009d,
  Data: 0x4200c2,
  TagLength: 0x4200ce,
  AuthenticatedEncryptionAdditionalData: 0x4200fe,
  AuthenticatedEncryptionTag: 0x4200ff,
} as const;

export const Operation = {
  Create: 0x01,
  GetAttributes: 0x0b,
  Activate: 0x12,
  Revoke: 0x13,
  Destroy: 0x14,
  Query: 0x18,
  DiscoverVersions: 0x1e,
  Encrypt: 0x1f,
  Decrypt: 0x20,
} as const;
export type KmipOperation = (typeof Operation)[keyof typeof Operation];

export const ResultStatus = { Success: 0, OperationFailed: 1, OperationPending: 2, OperationUndone: 3 } as const;

/** Result Reason values (9.1.3.2.29) by name, and names by value for messages. */
export const ResultReason = {
  ItemNotFound: 0x01,
  ResponseTooLarge: 0x02,
  AuthenticationNotSuccessful: 0x03,
  InvalidMessage: 0x04,
  OperationNotSupported: 0x05,
  MissingData: 0x06,
  InvalidField: 0x07,
  FeatureNotSupported: 0x08,
  OperationCanceledByRequester: 0x09,
  CryptographicFailure: 0x0a,
  IllegalOperation: 0x0b,
  PermissionDenied: 0x0c,
  ObjectArchived: 0x0d,
  IndexOutOfBounds: 0x0e,
  KeyValueNotPresent: 0x13,
  GeneralFailure: 0x100,
} as const;
export const RESULT_REASON_NAMES = new Map<number, string>(Object.entries(ResultReason).map(([k, v]) => [v, k]));

export const KeyState = { PreActive: 1, Active: 2, Deactivated: 3, Compromised: 4, Destroyed: 5, DestroyedCompromised: 6 } as const;
export const KEY_STATE_NAMES = new Map<number, string>(Object.entries(KeyState).map(([k, v]) => [v, k]));

export const CryptographicAlgorithm = { AES: 0x03 } as const;
export const BlockCipherMode = { GCM: 0x09 } as const;
export const ObjectType = { SymmetricKey: 0x02 } as const;
export const UsageMask = { Encrypt: 0x04, Decrypt: 0x08 } as const;
export const RevocationReasonCode = { KeyCompromise: 0x02, CessationOfOperation: 0x06 } as const;
export const QueryFunction = { Operations: 0x01, Objects: 0x02, ServerInformation: 0x03 } as const;

// Small builders, so request code reads like the specification's tables.
export const struct = (tag: number, value: TtlvItem[]): TtlvItem => ({ tag, type: "structure", value });
export const int = (tag: number, value: number): TtlvItem => ({ tag, type: "integer", value });
export const enumeration = (tag: number, value: number): TtlvItem => ({ tag, type: "enumeration", value });
export const text = (tag: number, value: string): TtlvItem => ({ tag, type: "text", value });
export const bytes = (tag: number, value: Buffer): TtlvItem => ({ tag, type: "bytes", value });
export const datetime = (tag: number, at: Date): TtlvItem => ({ tag, type: "datetime", value: BigInt(Math.floor(at.getTime() / 1000)) });
export const bool = (tag: number, value: boolean): TtlvItem => ({ tag, type: "boolean", value });

/** The first child of `s` with `tag`, if any. */
export function child(s: TtlvItem | undefined, tag: number): TtlvItem | undefined {
  return s?.type === "structure" ? s.value.find((i) => i.tag === tag) : undefined;
}

export function children(s: TtlvItem | undefined, tag: number): TtlvItem[] {
  return s?.type === "structure" ? s.value.filter((i) => i.tag === tag) : [];
}
