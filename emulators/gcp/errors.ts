// gRPC errors with the codes, texts and status details Cloud KMS answers with (KMS-NOTES.md 3.4).
import * as grpc from "@grpc/grpc-js";
import type { VersionState } from "./store";

export const S = grpc.status;

export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly statusDetailsBin?: Buffer,
  ) {
    super(message);
  }
}

// Minimal protobuf writer: only the google.rpc.Status / PreconditionFailure shapes are needed, and
// pulling protobufjs in as a transitive import would tie us to proto-loader's internals.
export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
export const lenField = (field: number, b: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
export const strField = (field: number, s: string) => lenField(field, Buffer.from(s, "utf8"));

export function preconditionStatusBin(code: number, message: string, type: string, subject: string, description: string): Buffer {
  const violation = Buffer.concat([strField(1, type), strField(2, subject), strField(3, description)]);
  const failure = lenField(1, violation);
  const any = Buffer.concat([strField(1, "type.googleapis.com/google.rpc.PreconditionFailure"), lenField(2, failure)]);
  return Buffer.concat([varint((1 << 3) | 0), varint(code), strField(2, message), lenField(3, any)]);
}

export const notFound = (kind: "KeyRing" | "CryptoKey" | "CryptoKeyVersion", name: string) =>
  new RpcError(S.NOT_FOUND, `${kind} ${name} not found.`);

export const denied = (permission: string, resource: string) =>
  new RpcError(S.PERMISSION_DENIED, `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`);

export const invalid = (msg: string) => new RpcError(S.INVALID_ARGUMENT, msg);

// Violation types: KEY_DISABLED is seen in real captures; the other two follow the same pattern (unverified).
export const STATE_VIOLATION: Record<string, string> = {
  DISABLED: "KEY_DISABLED",
  DESTROY_SCHEDULED: "KEY_DESTROY_SCHEDULED",
  DESTROYED: "KEY_DESTROYED",
};

export function notEnabled(versionName: string, state: VersionState): RpcError {
  const msg = `${versionName} is not enabled, current state is: ${state}.`;
  const type = STATE_VIOLATION[state] ?? "KEY_NOT_ENABLED";
  return new RpcError(S.FAILED_PRECONDITION, msg, preconditionStatusBin(S.FAILED_PRECONDITION, msg, type, versionName, msg));
}

export const DECRYPT_FAILED = "Decryption failed: the ciphertext is invalid.";

