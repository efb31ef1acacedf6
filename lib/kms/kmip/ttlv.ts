// KMIP's binary encoding, TTLV (KMIP 1.4 specification, section 9.1): a 3-byte tag, a 1-byte
// type, a 4-byte big-endian length and the value padded to a multiple of 8 bytes. Structures
// nest items. Decoding reads server bytes, so every length is checked against what is actually
// there and every fixed-size type against its size: a malformed or truncated message throws a
// TtlvError, never a RangeError from a Buffer read, and never loops or allocates unbounded.

export type TtlvItem =
  | { tag: number; type: "structure"; value: TtlvItem[] }
  | { tag: number; type: "integer" | "enumeration" | "interval"; value: number }
  | { tag: number; type: "long" | "biginteger" | "datetime"; value: bigint }
  | { tag: number; type: "boolean"; value: boolean }
  | { tag: number; type: "text"; value: string }
  | { tag: number; type: "bytes"; value: Buffer };

export type TtlvType = TtlvItem["type"];

const TYPE_CODES: Record<TtlvType, number> = {
  structure: 0x01,
  integer: 0x02,
  long: 0x03,
  biginteger: 0x04,
  enumeration: 0x05,
  boolean: 0x06,
  text: 0x07,
  bytes: 0x08,
  datetime: 0x09,
  interval: 0x0a,
};
const TYPE_NAMES = new Map<number, TtlvType>(Object.entries(TYPE_CODES).map(([name, code]) => [code, name as TtlvType]));

/** Deeper nesting than any KMIP 1.x message needs; bounds recursion on hostile input. */
export const MAX_TTLV_DEPTH = 16;

export class TtlvError extends Error {
  override readonly name = "TtlvError";
}

const padded = (n: number) => n + ((8 - (n % 8)) % 8);

export function encodeTtlv(item: TtlvItem): Buffer {
  const head = Buffer.alloc(8);
  if (!Number.isInteger(item.tag) || item.tag < 0 || item.tag > 0xffffff) throw new TtlvError(`tag out of range: ${item.tag}`);
  head.writeUIntBE(item.tag, 0, 3);
  head.writeUInt8(TYPE_CODES[item.type], 3);
  let body: Buffer;
  switch (item.type) {
    case "structure":
      body = Buffer.concat(item.value.map(encodeTtlv));
      break;
    case "integer":
    case "enumeration":
    case "interval": {
      body = Buffer.alloc(4);
      if (item.type === "integer") body.writeInt32BE(item.value);
      else body.writeUInt32BE(item.value);
      break;
    }
    case "long":
    case "datetime":
      body = Buffer.alloc(8);
      body.writeBigInt64BE(item.value);
      break;
    case "boolean":
      body = Buffer.alloc(8);
      body.writeUInt8(item.value ? 1 : 0, 7);
      break;
    case "biginteger":
      body = encodeBigInteger(item.value);
      break;
    case "text":
      body = Buffer.from(item.value, "utf8");
      break;
    case "bytes":
      body = item.value;
      break;
  }
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body, Buffer.alloc(padded(body.length) - body.length)]);
}

/** Two's complement, big-endian, sign-extended to a multiple of 8 bytes (section 9.1.1.4). */
function encodeBigInteger(v: bigint): Buffer {
  let hex = (v < 0n ? -v : v).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const len = padded(hex.length / 2 + 1);
  const width = BigInt(len * 8);
  const twos = v < 0n ? (1n << width) + v : v;
  return Buffer.from(twos.toString(16).padStart(len * 2, "0"), "hex");
}

function decodeBigInteger(b: Buffer): bigint {
  if (b.length === 0) return 0n;
  const u = BigInt(`0x${b.toString("hex")}`);
  return (b[0]! & 0x80) !== 0 ? u - (1n << BigInt(b.length * 8)) : u;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes exactly one item that spans all of `buf`. */
export function decodeTtlv(buf: Buffer): TtlvItem {
  const { item, end } = decodeAt(buf, 0, buf.length, 0);
  if (end !== buf.length) throw new TtlvError(`${buf.length - end} trailing bytes after the message`);
  return item;
}

/** The total size of the item whose 8-byte header starts `head` (value plus padding), for framing. */
export function ttlvFrameLength(head: Buffer): number {
  if (head.length < 8) throw new TtlvError("a TTLV header is 8 bytes");
  const type = head.readUInt8(3);
  if (type !== TYPE_CODES.structure) throw new TtlvError(`a message must be a structure, got type 0x${type.toString(16)}`);
  return 8 + padded(head.readUInt32BE(4));
}

function decodeAt(buf: Buffer, at: number, limit: number, depth: number): { item: TtlvItem; end: number } {
  if (depth > MAX_TTLV_DEPTH) throw new TtlvError(`nesting deeper than ${MAX_TTLV_DEPTH}`);
  if (limit - at < 8) throw new TtlvError(`truncated header at byte ${at}`);
  const tag = buf.readUIntBE(at, 3);
  const code = buf.readUInt8(at + 3);
  const length = buf.readUInt32BE(at + 4);
  const type = TYPE_NAMES.get(code);
  if (!type) throw new TtlvError(`unknown item type 0x${code.toString(16)} at byte ${at}`);
  if ((tag & 0xff0000) !== 0x420000 && (tag & 0xff0000) !== 0x540000) throw new TtlvError(`tag 0x${tag.toString(16)} at byte ${at} is neither a KMIP tag nor an extension`);
  const start = at + 8;
  const total = padded(length);
  if (total > limit - start) throw new TtlvError(`item 0x${tag.toString(16)} at byte ${at} claims ${length} bytes, ${limit - start} left`);
  const end = start + total;
  const fixed = (n: number) => {
    if (length !== n) throw new TtlvError(`item 0x${tag.toString(16)} of type ${type} must be ${n} bytes, is ${length}`);
  };
  const value = buf.subarray(start, start + length);
  switch (type) {
    case "structure": {
      const items: TtlvItem[] = [];
      let p = start;
      const stop = start + length;
      while (p < stop) {
        const child = decodeAt(buf, p, stop, depth + 1);
        items.push(child.item);
        p = child.end;
      }
      return { item: { tag, type, value: items }, end };
    }
    case "integer":
      fixed(4);
      return { item: { tag, type, value: value.readInt32BE(0) }, end };
    case "enumeration":
    case "interval":
      fixed(4);
      return { item: { tag, type, value: value.readUInt32BE(0) }, end };
    case "long":
    case "datetime":
      fixed(8);
      return { item: { tag, type, value: value.readBigInt64BE(0) }, end };
    case "boolean": {
      fixed(8);
      const v = value.readBigUInt64BE(0);
      if (v > 1n) throw new TtlvError(`boolean 0x${tag.toString(16)} is neither 0 nor 1`);
      return { item: { tag, type, value: v === 1n }, end };
    }
    case "biginteger":
      if (length % 8 !== 0) throw new TtlvError(`big integer 0x${tag.toString(16)} length ${length} is not a multiple of 8`);
      return { item: { tag, type, value: decodeBigInteger(value) }, end };
    case "text":
      try {
        return { item: { tag, type, value: utf8.decode(value) }, end };
      } catch {
        throw new TtlvError(`text 0x${tag.toString(16)} is not UTF-8`);
      }
    case "bytes":
      // A copy: the frame buffer is dropped, the value may be kept (ciphertext, tag).
      return { item: { tag, type, value: Buffer.from(value) }, end };
  }
}
