// Request and response messages (KMIP 1.4 specification, section 7): one batch item per
// message, so a response maps to exactly one operation. The response is checked for shape, not
// trusted: a server that answers another operation, a missing status, or several batch items
// throws KmipProtocolError.
import { child, children, enumeration, int, ResultStatus, struct, Tag, type KmipOperation } from "./tags";
import { decodeTtlv, encodeTtlv, TtlvError, type TtlvItem } from "./ttlv";

export interface ProtocolVersion {
  major: number;
  minor: number;
}

/** GCM's tag and AAD fields in Encrypt/Decrypt exist from KMIP 1.4 on. */
export const KMIP_1_4: ProtocolVersion = { major: 1, minor: 4 };

/** The server answered with something that is not a well-formed KMIP response to our request. */
export class KmipProtocolError extends Error {
  override readonly name = "KmipProtocolError";
}

/** The server answered the operation with a failure status. */
export class KmipResultError extends Error {
  override readonly name = "KmipResultError";
  constructor(
    readonly operation: number,
    readonly status: number,
    readonly reason: number | undefined,
    readonly serverMessage: string | undefined,
  ) {
    super(`KMIP operation 0x${operation.toString(16)} failed: status ${status}, reason ${reason ?? "none"}${serverMessage ? `: ${serverMessage}` : ""}`);
  }
}

export function versionItem(v: ProtocolVersion): TtlvItem {
  return struct(Tag.ProtocolVersion, [int(Tag.ProtocolVersionMajor, v.major), int(Tag.ProtocolVersionMinor, v.minor)]);
}

export function encodeRequest(version: ProtocolVersion, operation: KmipOperation, payload: TtlvItem[], maxResponseSize: number): Buffer {
  return encodeTtlv(
    struct(Tag.RequestMessage, [
      struct(Tag.RequestHeader, [versionItem(version), int(Tag.MaximumResponseSize, maxResponseSize), int(Tag.BatchCount, 1)]),
      struct(Tag.BatchItem, [enumeration(Tag.Operation, operation), struct(Tag.RequestPayload, payload)]),
    ]),
  );
}

/** Decodes a response frame and returns the payload of a successful answer to `operation`. */
export function decodeResponse(frame: Buffer, operation: KmipOperation): TtlvItem {
  let msg: TtlvItem;
  try {
    msg = decodeTtlv(frame);
  } catch (e) {
    if (e instanceof TtlvError) throw new KmipProtocolError(`malformed response: ${e.message}`);
    throw e;
  }
  if (msg.tag !== Tag.ResponseMessage || msg.type !== "structure") throw new KmipProtocolError(`expected a Response Message, got tag 0x${msg.tag.toString(16)}`);
  const header = child(msg, Tag.ResponseHeader);
  if (header?.type !== "structure") throw new KmipProtocolError("response has no Response Header");
  const items = children(msg, Tag.BatchItem);
  if (items.length !== 1) throw new KmipProtocolError(`expected one batch item, got ${items.length}`);
  const item = items[0]!;
  const op = child(item, Tag.Operation);
  const status = child(item, Tag.ResultStatus);
  if (status?.type !== "enumeration") throw new KmipProtocolError("batch item has no Result Status");
  const reason = child(item, Tag.ResultReason);
  const message = child(item, Tag.ResultMessage);
  if (status.value !== ResultStatus.Success) {
    throw new KmipResultError(
      op?.type === "enumeration" ? op.value : operation,
      status.value,
      reason?.type === "enumeration" ? reason.value : undefined,
      message?.type === "text" ? message.value.slice(0, 300) : undefined,
    );
  }
  // A failed answer may omit the operation (e.g. to a message it could not parse); a success may not.
  if (op?.type !== "enumeration" || op.value !== operation) throw new KmipProtocolError(`answer is for operation ${op?.type === "enumeration" ? op.value : "none"}, not ${operation}`);
  const payload = child(item, Tag.ResponsePayload);
  return payload ?? struct(Tag.ResponsePayload, []);
}
