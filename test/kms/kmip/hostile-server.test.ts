// The KMIP provider against a TLS peer that misbehaves on purpose: malformed, truncated,
// oversized and silent answers, a refused connection and a TLS handshake that never finishes are
// all `unavailable` (never a lock), an Invalid Message answer to our own request is `invalid` and
// reported as a bug, and the process never crashes.
import net from "node:net";
import tls from "node:tls";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { KmipKmsProvider } from "@/lib/kms/kmip";
import { MAX_FRAME_BYTES } from "@/lib/kms/kmip/connection";
import { enumeration, int, Operation, ResultReason, struct, Tag, text } from "@/lib/kms/kmip/tags";
import { encodeTtlv } from "@/lib/kms/kmip/ttlv";
import { isKmsError, type KmsError } from "@/lib/kms/types";
import { createTestPki, type TestPki } from "@/testkit/pykmip";

type Behaviour = (socket: tls.TLSSocket) => void;
let pki: TestPki;
let behaviour: Behaviour = () => {};
let server: tls.Server;
let port: number;
const bugs: string[] = [];

beforeAll(async () => {
  pki = createTestPki();
  server = tls.createServer({ cert: pki.server.certPem, key: pki.server.keyPem, ca: [pki.caPem], requestCert: true, rejectUnauthorized: true }, (s) => {
    s.on("error", () => {
      // The client hangs up on the bad answers this server sends; nothing to do.
    });
    s.once("data", () => behaviour(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(pki.dir, { recursive: true, force: true });
});

function provider(targetPort = port, timeoutMs = 800): { p: KmipKmsProvider; ref: string } {
  const client = pki.clientCert("cmek-broker-hostile");
  const p = new KmipKmsProvider({
    allowedHosts: [`127.0.0.1:${targetPort}`],
    credentials: { credentialsFor: () => Promise.resolve({ certPem: client.certPem, keyPem: client.keyPem, caPem: pki.caPem }) },
    timeoutMs,
    retries: 1,
    onBug: (m) => bugs.push(m),
  });
  return { p, ref: `kmip://127.0.0.1:${targetPort}/key-1` };
}

async function wrapError(targetPort?: number, timeoutMs?: number): Promise<KmsError> {
  const { p, ref } = provider(targetPort, timeoutMs);
  try {
    const e = await p.wrap(ref, Buffer.alloc(32, 1), { tenant: "t" }).then(() => null, (x: unknown) => x);
    if (!isKmsError(e)) throw new Error(`expected a KmsError, got ${String(e)}`);
    return e;
  } finally {
    p.close();
  }
}

const failure = (reason: number) =>
  encodeTtlv(
    struct(Tag.ResponseMessage, [
      struct(Tag.ResponseHeader, [struct(Tag.ProtocolVersion, [int(Tag.ProtocolVersionMajor, 1), int(Tag.ProtocolVersionMinor, 4)]), int(Tag.BatchCount, 1)]),
      struct(Tag.BatchItem, [enumeration(Tag.Operation, Operation.Encrypt), enumeration(Tag.ResultStatus, 1), enumeration(Tag.ResultReason, reason), text(Tag.ResultMessage, "server says no")]),
    ]),
  );

test.each<[string, Behaviour, string]>([
  ["a frame that is not a structure", (s) => s.end(Buffer.from("4200200200000004000000080000000000", "hex")), "malformed_frame"],
  ["a truncated frame, then a hang-up", (s) => s.end(failure(ResultReason.PermissionDenied).subarray(0, 30)), "ECONNRESET"],
  ["an announced answer over the size limit", (s) => s.write(Buffer.concat([Buffer.from("42007b01", "hex"), Buffer.from([0x7f, 0xff, 0xff, 0xf8])])), "frame_too_large"],
  ["a well-framed answer whose body is garbage", (s) => s.write(Buffer.concat([Buffer.from("42007b0100000010", "hex"), Buffer.alloc(16, 0xff)])), "malformed_response"],
  ["no answer at all", () => {}, "ETIMEDOUT"],
  ["Operation Failed with General Failure (transient)", (s) => s.write(failure(ResultReason.GeneralFailure)), "GeneralFailure"],
])("%s is unavailable", async (_what, b, code) => {
  behaviour = b;
  const e = await wrapError();
  expect(e.kind).toBe("unavailable");
  expect(e.detail.providerCode).toBe(code);
  expect(MAX_FRAME_BYTES).toBeLessThan(0x7ffffff8);
});

test("a refused connection and a TLS handshake that never completes are unavailable", async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  expect(await wrapError(closedPort)).toMatchObject({ kind: "unavailable", detail: { providerCode: "ECONNREFUSED" } });

  // Accepts TCP and never speaks TLS.
  const held: net.Socket[] = [];
  const silent = net.createServer((sock) => void held.push(sock));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  try {
    expect(await wrapError((silent.address() as net.AddressInfo).port, 400)).toMatchObject({ kind: "unavailable", detail: { providerCode: "handshake_timeout" } });
  } finally {
    // Connections still open would keep close() waiting.
    for (const sock of held) sock.destroy();
    await new Promise((r) => silent.close(r));
  }
}, 10_000);

test("Invalid Message on our own request is invalid (never a lock) and reported as a bug", async () => {
  behaviour = (s) => s.write(failure(ResultReason.InvalidMessage));
  bugs.length = 0;
  const e = await wrapError();
  expect(e.kind).toBe("invalid");
  expect(e.detail.providerCode).toBe("InvalidMessage");
  expect(bugs.join("\n")).toMatch(/Encrypt on kmip:\/\/127\.0\.0\.1:\d+\/key-1 was refused as malformed/);
});

test("Item Not Found and Permission Denied are revocations", async () => {
  behaviour = (s) => s.write(failure(ResultReason.ItemNotFound));
  expect(await wrapError()).toMatchObject({ kind: "revoked", detail: { reason: "not_found" } });
  // Permission Denied on Encrypt and on the State read that follows: another owner's key.
  behaviour = (s) => {
    s.write(failure(ResultReason.PermissionDenied));
    s.once("data", () => s.write(failure(ResultReason.PermissionDenied)));
  };
  expect(await wrapError()).toMatchObject({ kind: "revoked", detail: { reason: "access_denied" } });
});
