// A KMIP 1.4 client for the operations a key broker needs (Discover Versions, Query, Get
// Attributes, Encrypt / Decrypt with AES-GCM) and those its tests and the emulated tenant side use
// (Create, Activate, Revoke, Destroy). One request per message, over pooled mutual-TLS
// connections; each call is bounded by one deadline, and only transport failures are retried.
import { KmipConnectionPool, KmipTransportError, type KmipEndpoint } from "./connection";
import { decodeResponse, encodeRequest, KMIP_1_4, KmipProtocolError, versionItem, type ProtocolVersion } from "./messages";
import {
  BlockCipherMode,
  bytes,
  child,
  children,
  CryptographicAlgorithm,
  datetime,
  enumeration,
  int,
  ObjectType,
  Operation,
  struct,
  Tag,
  text,
  type KmipOperation,
} from "./tags";
import type { TtlvItem } from "./ttlv";

export interface KmipClientOptions {
  /** Upper bound of one call, connection, retries and answer included (default 2000 ms). */
  timeoutMs?: number;
  /** Attempts after the first, for transport failures only (default 1). */
  retries?: number;
  pool?: KmipConnectionPool;
}

export interface KeyAttributes {
  state?: number;
  algorithm?: number;
  length?: number;
  usageMask?: number;
}

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

const MAX_RESPONSE_SIZE = 64 * 1024;

export class KmipClient {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly pool: KmipConnectionPool;

  constructor(
    private readonly endpoint: KmipEndpoint,
    /** Pool slot: endpoint and identity (two tenants on one server never share a session). */
    private readonly poolKey: string,
    opts: KmipClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retries = opts.retries ?? 1;
    this.pool = opts.pool ?? new KmipConnectionPool();
  }

  /** Versions the server speaks, most preferred first. */
  async discoverVersions(offer: ProtocolVersion[] = []): Promise<ProtocolVersion[]> {
    const p = await this.call(Operation.DiscoverVersions, offer.map(versionItem));
    return children(p, Tag.ProtocolVersion).map((v) => ({ major: intOf(child(v, Tag.ProtocolVersionMajor)) ?? 0, minor: intOf(child(v, Tag.ProtocolVersionMinor)) ?? 0 }));
  }

  async query(functions: number[]): Promise<{ operations: number[]; vendor?: string }> {
    const p = await this.call(Operation.Query, functions.map((f) => enumeration(Tag.QueryFunction, f)));
    const vendor = child(p, Tag.VendorIdentification);
    return { operations: children(p, Tag.Operation).map((o) => intOf(o) ?? -1), vendor: vendor?.type === "text" ? vendor.value : undefined };
  }

  async getAttributes(uid: string): Promise<KeyAttributes> {
    const names = ["State", "Cryptographic Algorithm", "Cryptographic Length", "Cryptographic Usage Mask"];
    const p = await this.call(Operation.GetAttributes, [text(Tag.UniqueIdentifier, uid), ...names.map((n) => text(Tag.AttributeName, n))]);
    const out: KeyAttributes = {};
    for (const a of children(p, Tag.Attribute)) {
      const name = child(a, Tag.AttributeName);
      const value = intOf(child(a, Tag.AttributeValue));
      if (name?.type !== "text" || value === undefined) continue;
      if (name.value === "State") out.state = value;
      else if (name.value === "Cryptographic Algorithm") out.algorithm = value;
      else if (name.value === "Cryptographic Length") out.length = value;
      else if (name.value === "Cryptographic Usage Mask") out.usageMask = value;
    }
    return out;
  }

  async create(opts: { usageMask: number; operationPolicyName?: string; length?: number }): Promise<string> {
    const attr = (name: string, value: TtlvItem) => struct(Tag.Attribute, [text(Tag.AttributeName, name), { ...value, tag: Tag.AttributeValue }]);
    const p = await this.call(Operation.Create, [
      enumeration(Tag.ObjectType, ObjectType.SymmetricKey),
      struct(Tag.TemplateAttribute, [
        attr("Cryptographic Algorithm", enumeration(0, CryptographicAlgorithm.AES)),
        attr("Cryptographic Length", int(0, opts.length ?? 256)),
        attr("Cryptographic Usage Mask", int(0, opts.usageMask)),
        ...(opts.operationPolicyName ? [attr("Operation Policy Name", text(0, opts.operationPolicyName))] : []),
      ]),
    ]);
    return uidOf(p);
  }

  async activate(uid: string): Promise<void> {
    await this.call(Operation.Activate, [text(Tag.UniqueIdentifier, uid)]);
  }

  async revoke(uid: string, reasonCode: number, compromiseOccurredAt?: Date): Promise<void> {
    await this.call(Operation.Revoke, [
      text(Tag.UniqueIdentifier, uid),
      struct(Tag.RevocationReason, [enumeration(Tag.RevocationReasonCode, reasonCode)]),
      ...(compromiseOccurredAt ? [datetime(Tag.CompromiseOccurrenceDate, compromiseOccurredAt)] : []),
    ]);
  }

  async destroy(uid: string): Promise<void> {
    await this.call(Operation.Destroy, [text(Tag.UniqueIdentifier, uid)]);
  }

  /** AES-256-GCM with our 12-byte IV and a 16-byte tag; `aad` is authenticated, not encrypted. */
  async encrypt(uid: string, data: Buffer, iv: Buffer, aad: Buffer): Promise<{ data: Buffer; tag: Buffer }> {
    const p = await this.call(Operation.Encrypt, [text(Tag.UniqueIdentifier, uid), gcmParameters(), bytes(Tag.Data, data), bytes(Tag.IvCounterNonce, iv), bytes(Tag.AuthenticatedEncryptionAdditionalData, aad)]);
    const out = child(p, Tag.Data);
    const tag = child(p, Tag.AuthenticatedEncryptionTag);
    if (out?.type !== "bytes") throw new KmipProtocolError("Encrypt answer has no Data");
    if (tag?.type !== "bytes" || tag.value.length !== GCM_TAG_BYTES) throw new KmipProtocolError("Encrypt answer has no 16-byte Authenticated Encryption Tag");
    if (out.value.length !== data.length) throw new KmipProtocolError(`Encrypt answer is ${out.value.length} bytes for ${data.length} bytes of GCM input`);
    return { data: out.value, tag: tag.value };
  }

  async decrypt(uid: string, data: Buffer, iv: Buffer, aad: Buffer, tag: Buffer): Promise<Buffer> {
    const p = await this.call(Operation.Decrypt, [
      text(Tag.UniqueIdentifier, uid),
      gcmParameters(),
      bytes(Tag.Data, data),
      bytes(Tag.IvCounterNonce, iv),
      bytes(Tag.AuthenticatedEncryptionAdditionalData, aad),
      bytes(Tag.AuthenticatedEncryptionTag, tag),
    ]);
    const out = child(p, Tag.Data);
    if (out?.type !== "bytes") throw new KmipProtocolError("Decrypt answer has no Data");
    return out.value;
  }

  /** One request, retried on transport failures while the deadline allows. */
  private async call(operation: KmipOperation, payload: TtlvItem[]): Promise<TtlvItem> {
    const deadline = Date.now() + this.timeoutMs;
    const message = encodeRequest(KMIP_1_4, operation, payload, MAX_RESPONSE_SIZE);
    let lastError: Error | undefined;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      // Out of time after a failed attempt: that failure says more than "timed out".
      if (left <= 0) throw lastError ?? new KmipTransportError("ETIMEDOUT", `no KMIP answer within ${this.timeoutMs} ms`);
      try {
        const frame = await this.pool.use(this.poolKey, this.endpoint, left, (c) => c.request(message, Math.max(1, deadline - Date.now())));
        try {
          return decodeResponse(frame, operation);
        } finally {
          // The frame may hold key material (a Decrypt answer); decodeResponse copied what it keeps.
          frame.fill(0);
        }
      } catch (e) {
        const retryable = e instanceof KmipTransportError && !e.tlsCode && e.code !== "ETIMEDOUT";
        if (!retryable || attempt >= this.retries) throw e;
        lastError = e as KmipTransportError;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt + Math.random() * 50, Math.max(0, deadline - Date.now()))));
      }
    }
  }
}

function gcmParameters(): TtlvItem {
  return struct(Tag.CryptographicParameters, [
    enumeration(Tag.BlockCipherMode, BlockCipherMode.GCM),
    enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
    int(Tag.TagLength, GCM_TAG_BYTES),
  ]);
}

function intOf(i: TtlvItem | undefined): number | undefined {
  return i && (i.type === "integer" || i.type === "enumeration") ? i.value : undefined;
}

function uidOf(p: TtlvItem): string {
  const u = child(p, Tag.UniqueIdentifier);
  if (u?.type !== "text") throw new KmipProtocolError("answer has no Unique Identifier");
  return u.value;
}
