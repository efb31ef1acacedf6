import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import { openEnvelope, readEnvelopeHeader, sealEnvelope } from "@/lib/crypto/envelope";
import { InvalidCiphertextError } from "@/lib/crypto/errors";

const tenantA = randomUUID();
const tenantB = randomUUID();
const dekId = randomUUID();

describe("envelope", () => {
  const dek = DataKeyMaterial.generate();
  const plaintext = Buffer.from("card 4111 1111 1111 1111");
  const context = { table: "payments", row: "42" };
  const sealed = sealEnvelope(dek, { tenantId: tenantA, dekId }, plaintext, context);

  test("round-trips and exposes the header", () => {
    expect(openEnvelope(dek, sealed, { row: "42", table: "payments" })).toEqual(plaintext);
    expect(readEnvelopeHeader(sealed)).toEqual({ version: 1, tenantId: tenantA, dekId, classId: null });
  });

  test("uses a fresh nonce each time", () => {
    const again = sealEnvelope(dek, { tenantId: tenantA, dekId }, plaintext, context);
    expect(again.subarray(33, 45).equals(sealed.subarray(33, 45))).toBe(false);
  });

  test("flipping any single byte fails with invalid ciphertext", () => {
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      expect(() => openEnvelope(dek, bad, context), `byte ${i}`).toThrow(InvalidCiphertextError);
    }
  });

  test("another tenant id in the header, another context, a truncated record all fail", () => {
    const asB = Buffer.from(sealed);
    Buffer.from(tenantB.replace(/-/g, ""), "hex").copy(asB, 1);
    expect(() => openEnvelope(dek, asB, context)).toThrow(InvalidCiphertextError);
    expect(() => openEnvelope(dek, sealed, { table: "payments", row: "43" })).toThrow(InvalidCiphertextError);
    expect(() => openEnvelope(dek, sealed, {})).toThrow(InvalidCiphertextError);
    expect(() => openEnvelope(dek, sealed.subarray(0, 40), context)).toThrow(InvalidCiphertextError);
  });

  test("context keys and values cannot be shifted into each other", () => {
    const c = sealEnvelope(dek, { tenantId: tenantA, dekId }, plaintext, { a: "b,c" });
    expect(() => openEnvelope(dek, c, { "a,b": "c" })).toThrow(InvalidCiphertextError);
  });

  test("destroying a DEK zeroes its buffer", () => {
    const d = DataKeyMaterial.generate();
    const buf = DataKeyMaterial.unsafeBufferOf(d)!;
    expect(buf.some((b) => b !== 0)).toBe(true);
    // The cipher KeyObject, once made, is dropped with the bytes.
    expect(d.cipherKey().symmetricKeySize).toBe(32);
    d.destroy();
    expect(buf.every((b) => b === 0)).toBe(true);
    expect(() => d.key()).toThrow();
    expect(() => d.cipherKey()).toThrow();
  });

  test("takeFrom zeroes the SDK's copy", () => {
    const src = new Uint8Array(32).fill(7);
    const d = DataKeyMaterial.takeFrom(src);
    expect(src.every((b) => b === 0)).toBe(true);
    expect(d.key().every((b) => b === 7)).toBe(true);
  });
});
