// kmip:// key references: strict format and the server allow-list (SSRF), no network.
import { expect, test } from "vitest";
import { parseKmipKeyRef, formatKmipKeyRef } from "@/lib/kms/kmip/key-ref";

const ALLOWED = ["kms.example.com", ".hsm.example.net", "127.0.0.1:15696"];

test.each([
  ["kmip://kms.example.com/1234", "kmip://kms.example.com:5696/1234"],
  ["KMIP://KMS.example.com:5696/ab-cd_01", "kmip://kms.example.com:5696/ab-cd_01"],
  ["kmip://eu1.hsm.example.net:5696/6f1c9a2e-1b7d-4c2a-9a55-0c3e2f1d0b7a", "kmip://eu1.hsm.example.net:5696/6f1c9a2e-1b7d-4c2a-9a55-0c3e2f1d0b7a"],
  ["kmip://127.0.0.1:15696/7", "kmip://127.0.0.1:15696/7"],
])("%s is accepted as %s", (ref, canonical) => {
  expect(formatKmipKeyRef(parseKmipKeyRef(ref, ALLOWED))).toBe(canonical);
});

test.each([
  ["another host", "kmip://evil.example.org/1", "host_not_allowed"],
  ["an allowed host on another port", "kmip://kms.example.com:15696/1", "host_not_allowed"],
  ["two labels in front of a suffix entry", "kmip://a.b.hsm.example.net/1", "host_not_allowed"],
  ["the bare suffix", "kmip://hsm.example.net/1", "host_not_allowed"],
  ["the loopback address on the default port", "kmip://127.0.0.1/1", "host_not_allowed"],
  ["user info", "kmip://user@kms.example.com/1", "invalid_key_ref"],
  ["a path", "kmip://kms.example.com/a/b", "invalid_key_ref"],
  ["a query", "kmip://kms.example.com/1?x=y", "invalid_key_ref"],
  ["no identifier", "kmip://kms.example.com/", "invalid_key_ref"],
  ["another scheme", "https://kms.example.com/1", "invalid_key_ref"],
  ["spaces in the identifier", "kmip://kms.example.com/a%20b", "invalid_key_ref"],
  ["broken percent-encoding", "kmip://kms.example.com/%zz", "invalid_key_ref"],
  ["port 0", "kmip://kms.example.com:0/1", "invalid_key_ref"],
])("%s is refused", (_what, ref, code) => {
  expect(() => parseKmipKeyRef(ref, ALLOWED)).toThrow(expect.objectContaining({ kind: "invalid", detail: { providerCode: code } }));
});
