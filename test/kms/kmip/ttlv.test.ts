// TTLV against the KMIP 1.4 specification's own encoding examples (section 9.1.2), and decoding
// of malformed and truncated server bytes: every one is a TtlvError / KmipProtocolError, never a
// RangeError or a crash, and a response that is not ours is refused.
import { describe, expect, test } from "vitest";
import { decodeResponse, encodeRequest, KMIP_1_4, KmipProtocolError, KmipResultError } from "@/lib/kms/kmip/messages";
import { enumeration, int, Operation, ResultReason, struct, Tag, text } from "@/lib/kms/kmip/tags";
import { decodeTtlv, encodeTtlv, MAX_TTLV_DEPTH, TtlvError, type TtlvItem } from "@/lib/kms/kmip/ttlv";

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ""), "hex");

// Section 9.1.2, "Examples": tag 0x420020 with each item type.
const SPEC_EXAMPLES: Array<{ what: string; item: TtlvItem; bytes: string }> = [
  { what: "Integer 8", item: { tag: 0x420020, type: "integer", value: 8 }, bytes: "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00" },
  { what: "Long Integer 123456789000000000", item: { tag: 0x420020, type: "long", value: 123456789000000000n }, bytes: "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00" },
  {
    what: "Big Integer 1234567890000000000000000000",
    item: { tag: 0x420020, type: "biginteger", value: 1234567890000000000000000000n },
    bytes: "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00",
  },
  { what: "Enumeration 255", item: { tag: 0x420020, type: "enumeration", value: 255 }, bytes: "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00" },
  { what: "Boolean True", item: { tag: 0x420020, type: "boolean", value: true }, bytes: "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01" },
  { what: 'Text String "Hello World"', item: { tag: 0x420020, type: "text", value: "Hello World" }, bytes: "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00" },
  { what: "Byte String 01 02 03", item: { tag: 0x420020, type: "bytes", value: Buffer.from([1, 2, 3]) }, bytes: "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00" },
  {
    what: "Date-Time Friday, March 14, 2008, 11:56:40 GMT",
    item: { tag: 0x420020, type: "datetime", value: BigInt(Date.UTC(2008, 2, 14, 11, 56, 40) / 1000) },
    bytes: "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
  },
  { what: "Interval 10 days", item: { tag: 0x420020, type: "interval", value: 864000 }, bytes: "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00" },
  {
    what: "Structure of Enumeration 254 (tag 420004) and Integer 255 (tag 420005)",
    item: { tag: 0x420020, type: "structure", value: [{ tag: 0x420004, type: "enumeration", value: 254 }, { tag: 0x420005, type: "integer", value: 255 }] },
    bytes: "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
  },
];

describe("the specification's TTLV examples", () => {
  test.each(SPEC_EXAMPLES)("$what encodes and decodes exactly", ({ item, bytes }) => {
    expect(encodeTtlv(item).toString("hex")).toBe(hex(bytes).toString("hex"));
    expect(decodeTtlv(hex(bytes))).toEqual(item);
  });

  test("negative big integers are sign-extended two's complement", () => {
    const item: TtlvItem = { tag: 0x420020, type: "biginteger", value: -1234567890000000000000000000n };
    const enc = encodeTtlv(item);
    expect(enc.subarray(8, 12).toString("hex")).toBe("ffffffff");
    expect(decodeTtlv(enc)).toEqual(item);
  });
});

describe("malformed and truncated input never crashes: it is a TtlvError", () => {
  const valid = hex(SPEC_EXAMPLES.at(-1)!.bytes);
  const cases: Array<[string, Buffer]> = [
    ["empty", Buffer.alloc(0)],
    ["a header cut short", valid.subarray(0, 5)],
    ["a structure cut short", valid.subarray(0, valid.length - 3)],
    ["a child cut inside its header", valid.subarray(0, 8 + 4)],
    ["a length beyond the buffer", Buffer.concat([hex("42 00 20 | 08 | 7F FF FF FF"), Buffer.alloc(8)])],
    ["an integer of the wrong size", hex("42 00 20 | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 08")],
    ["a boolean that is neither 0 nor 1", hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02")],
    ["an unknown type", hex("42 00 20 | 0F | 00 00 00 04 | 00 00 00 01 00 00 00 00")],
    ["a tag outside KMIP's ranges", hex("13 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00")],
    ["text that is not UTF-8", hex("42 00 20 | 07 | 00 00 00 02 | C3 28 00 00 00 00 00 00")],
    ["a big integer not a multiple of 8", hex("42 00 20 | 04 | 00 00 00 04 | 00 00 00 01 00 00 00 00")],
    ["trailing bytes", Buffer.concat([hex(SPEC_EXAMPLES[0]!.bytes), Buffer.alloc(8)])],
    ["a child longer than its parent", hex("42 00 20 | 01 | 00 00 00 08 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00")],
  ];
  test.each(cases)("%s", (_what, bytes) => {
    expect(() => decodeTtlv(bytes)).toThrow(TtlvError);
  });

  test(`nesting deeper than ${MAX_TTLV_DEPTH} is refused without recursing further`, () => {
    let item: TtlvItem = { tag: 0x420020, type: "integer", value: 1 };
    for (let i = 0; i < 200; i++) item = { tag: 0x420020, type: "structure", value: [item] };
    expect(() => decodeTtlv(encodeTtlv(item))).toThrow(/nesting deeper/);
  });

  test("every prefix of a real response is refused cleanly", () => {
    const response = responseFrame(Operation.Query, 0, [text(Tag.VendorIdentification, "vendor")]);
    for (let n = 0; n < response.length; n++) {
      expect(() => decodeResponse(response.subarray(0, n), Operation.Query)).toThrow(KmipProtocolError);
    }
    expect(() => decodeResponse(response, Operation.Query)).not.toThrow();
  });
});

function responseFrame(op: number, status: number, payload: TtlvItem[], reason?: number): Buffer {
  return encodeTtlv(
    struct(Tag.ResponseMessage, [
      struct(Tag.ResponseHeader, [struct(Tag.ProtocolVersion, [int(Tag.ProtocolVersionMajor, 1), int(Tag.ProtocolVersionMinor, 4)]), int(Tag.BatchCount, 1)]),
      struct(Tag.BatchItem, [
        enumeration(Tag.Operation, op),
        enumeration(Tag.ResultStatus, status),
        ...(reason !== undefined ? [enumeration(Tag.ResultReason, reason), text(Tag.ResultMessage, "nope")] : []),
        ...(status === 0 ? [struct(Tag.ResponsePayload, payload)] : []),
      ]),
    ]),
  );
}

describe("messages", () => {
  test("a request is one batch item under a 1.4 header", () => {
    const req = decodeTtlv(encodeRequest(KMIP_1_4, Operation.DiscoverVersions, [], 4096));
    expect(req).toMatchObject({
      tag: Tag.RequestMessage,
      value: [
        { tag: Tag.RequestHeader, value: [{ tag: Tag.ProtocolVersion, value: [{ value: 1 }, { value: 4 }] }, { tag: Tag.MaximumResponseSize, value: 4096 }, { tag: Tag.BatchCount, value: 1 }] },
        { tag: Tag.BatchItem, value: [{ tag: Tag.Operation, type: "enumeration", value: Operation.DiscoverVersions }, { tag: Tag.RequestPayload, value: [] }] },
      ],
    });
  });

  test("a failure carries status, reason and the server's message", () => {
    const e = (() => {
      try {
        decodeResponse(responseFrame(Operation.Decrypt, 1, [], ResultReason.PermissionDenied), Operation.Decrypt);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(KmipResultError);
    expect(e).toMatchObject({ status: 1, reason: ResultReason.PermissionDenied, serverMessage: "nope" });
  });

  test("an answer to another operation, or with several batch items, is refused", () => {
    expect(() => decodeResponse(responseFrame(Operation.Encrypt, 0, []), Operation.Decrypt)).toThrow(/not 32/);
    const two = encodeTtlv(struct(Tag.ResponseMessage, [struct(Tag.ResponseHeader, []), struct(Tag.BatchItem, []), struct(Tag.BatchItem, [])]));
    expect(() => decodeResponse(two, Operation.Query)).toThrow(/one batch item/);
    expect(() => decodeResponse(encodeTtlv(struct(Tag.RequestMessage, [])), Operation.Query)).toThrow(/Response Message/);
  });
});
