// Format 2 records and class-bound streams (issue 12): the data class id is in the header and
// under the tag, so no header byte (the class id, the format byte included) can change unseen;
// `default` records and streams keep their format 1 bytes.
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import { ENVELOPE_VERSION, ENVELOPE_VERSION_CLASSED, openEnvelope, readEnvelopeHeader, sealEnvelope, uuidToBytes } from "@/lib/crypto/envelope";
import { InvalidCiphertextError } from "@/lib/crypto/errors";
import { CLASSED_STREAM_HEADER_BYTES, newStreamHeader, parseStreamHeader, STREAM_FORMAT_BYTE, STREAM_FORMAT_BYTE_CLASSED, STREAM_HEADER_BYTES, StreamSealer } from "@/lib/crypto/stream-frames";
import { StreamOpener } from "@/lib/crypto/stream-opener";

const tenantId = randomUUID();
const dekId = randomUUID();
const classA = randomUUID();
const classB = randomUUID();
const dek = DataKeyMaterial.generate();
const context = { table: "people", row: "7" };
const plaintext = Buffer.from("jane@example.com");

describe("envelope format 2", () => {
  const sealed = sealEnvelope(dek, { tenantId, dekId, classId: classA }, plaintext, context);

  test("round-trips and names the class in its header", () => {
    expect(sealed[0]).toBe(ENVELOPE_VERSION_CLASSED);
    expect(sealed.length).toBe(1 + 16 + 16 + 16 + 12 + plaintext.length + 16);
    expect(readEnvelopeHeader(sealed)).toEqual({ version: ENVELOPE_VERSION_CLASSED, tenantId, dekId, classId: classA });
    expect(openEnvelope(dek, sealed, context)).toEqual(plaintext);
  });

  test("the default class keeps format 1, byte for byte in layout", () => {
    for (const classId of [undefined, null]) {
      const v1 = sealEnvelope(dek, { tenantId, dekId, classId }, plaintext, context);
      expect(v1[0]).toBe(ENVELOPE_VERSION);
      expect(v1.length).toBe(1 + 16 + 16 + 12 + plaintext.length + 16);
      expect(readEnvelopeHeader(v1).classId).toBeNull();
      expect(openEnvelope(dek, v1, context)).toEqual(plaintext);
    }
  });

  test("flipping any single byte fails, header bytes (class id, format byte) included", () => {
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      expect(() => openEnvelope(dek, bad, context), `byte ${i}`).toThrow(InvalidCiphertextError);
    }
  });

  test("another class id in the header fails; so does the record relabelled as format 1", () => {
    const asB = Buffer.from(sealed);
    uuidToBytes(classB).copy(asB, 33);
    expect(readEnvelopeHeader(asB).classId).toBe(classB);
    expect(() => openEnvelope(dek, asB, context)).toThrow(InvalidCiphertextError);
    const asV1 = Buffer.from(sealed);
    asV1[0] = ENVELOPE_VERSION;
    expect(readEnvelopeHeader(asV1).classId).toBeNull();
    expect(() => openEnvelope(dek, asV1, context)).toThrow(InvalidCiphertextError);
    const v1 = sealEnvelope(dek, { tenantId, dekId }, plaintext, context);
    const asV2 = Buffer.concat([Buffer.from([ENVELOPE_VERSION_CLASSED]), v1.subarray(1)]);
    expect(() => openEnvelope(dek, asV2, context)).toThrow(InvalidCiphertextError);
  });

  test("a stream handed to the record reader is named as one", () => {
    const header = newStreamHeader({ tenantId, dekId }).bytes;
    expect(() => readEnvelopeHeader(Buffer.concat([header, Buffer.alloc(64)]))).toThrow(/stream/);
    expect(() => readEnvelopeHeader(sealed.subarray(0, 60))).toThrow(/too short/);
  });
});

function sealStream(header: ReturnType<typeof newStreamHeader>, plain: Buffer): Buffer {
  const s = new StreamSealer(dek, header, context);
  return Buffer.concat([...s.update(plain), ...s.final()]);
}

function openStream(stream: Buffer): Buffer {
  const header = parseStreamHeader(stream);
  const o = new StreamOpener(dek, header, context);
  return Buffer.concat([...o.update(stream.subarray(header.bytes.length)), ...o.final()]);
}

describe("class-bound streams", () => {
  const plain = Buffer.alloc(100, 7);

  test("a class's stream names it (format byte 0x04, 69-byte header) and round-trips", () => {
    const stream = sealStream(newStreamHeader({ tenantId, dekId, classId: classA }, 32), plain);
    expect(stream[0]).toBe(STREAM_FORMAT_BYTE_CLASSED);
    const header = parseStreamHeader(stream);
    expect(header).toMatchObject({ tenantId, dekId, classId: classA, frameBytes: 32 });
    expect(header.bytes.length).toBe(CLASSED_STREAM_HEADER_BYTES);
    expect(openStream(stream)).toEqual(plain);
  });

  test("a default stream keeps its 53-byte format 0x02 header", () => {
    const stream = sealStream(newStreamHeader({ tenantId, dekId, classId: null }, 32), plain);
    expect(stream[0]).toBe(STREAM_FORMAT_BYTE);
    expect(parseStreamHeader(stream).bytes.length).toBe(STREAM_HEADER_BYTES);
    expect(parseStreamHeader(stream).classId).toBeNull();
    expect(openStream(stream)).toEqual(plain);
  });

  test("any header byte of a class's stream changed fails (the class id included)", () => {
    const stream = sealStream(newStreamHeader({ tenantId, dekId, classId: classA }, 32), plain);
    // Bytes 49..52 are the frame size, checked by the parser or the frame lengths; the rest only by the tags.
    for (let i = 1; i < CLASSED_STREAM_HEADER_BYTES; i++) {
      const bad = Buffer.from(stream);
      bad[i]! ^= 0x01;
      expect(() => openStream(bad), `byte ${i}`).toThrow(InvalidCiphertextError);
    }
    const asB = Buffer.from(stream);
    uuidToBytes(classB).copy(asB, STREAM_HEADER_BYTES);
    expect(parseStreamHeader(asB).classId).toBe(classB);
    expect(() => openStream(asB)).toThrow(InvalidCiphertextError);
  });

  test("a format 2 record handed to the stream reader is named as one", () => {
    const record = sealEnvelope(dek, { tenantId, dekId, classId: classA }, plaintext, context);
    expect(() => parseStreamHeader(record)).toThrow(/single ciphertext record/);
  });
});
