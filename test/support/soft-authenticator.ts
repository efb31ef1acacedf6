// A software WebAuthn authenticator for API tests (the console's Playwright specs use Chromium's
// virtual authenticator instead): a P-256 key per credential, "none" attestation, user presence
// and verification flagged, and assertions signed over authenticatorData || SHA-256(clientData).
// It speaks the wire format @simplewebauthn/browser sends, so the broker's real verifier checks it.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}

/** Enough CBOR for attestation objects and COSE keys: ints, text, bytes and maps. */
function cbor(v: unknown): Buffer {
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error("unsupported CBOR value");
}

const b64u = (b: Buffer) => b.toString("base64url");

export class SoftAuthenticator {
  private readonly id = randomBytes(16);
  private readonly key: KeyObject;
  private readonly pub: { x: Buffer; y: Buffer };
  private count = 0;

  constructor(private readonly origin: string) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = privateKey;
    const jwk = publicKey.export({ format: "jwk" });
    this.pub = { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") };
  }

  private rpIdHash(rpId: string) {
    return createHash("sha256").update(rpId).digest();
  }

  private clientData(type: string, challenge: string) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }

  /** The answer to navigator.credentials.create for these options. */
  create(options: { challenge: string; rp: { id?: string } }) {
    const rpId = options.rp.id ?? new URL(this.origin).hostname;
    const cose = cbor(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, this.pub.x],
        [-3, this.pub.y],
      ]),
    );
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.id.length);
    const authData = Buffer.concat([this.rpIdHash(rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLen, this.id, cose]);
    const attestationObject = cbor(
      new Map<string, unknown>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    return {
      id: b64u(this.id),
      rawId: b64u(this.id),
      type: "public-key" as const,
      response: { clientDataJSON: b64u(this.clientData("webauthn.create", options.challenge)), attestationObject: b64u(attestationObject), transports: ["internal"] },
      clientExtensionResults: {},
    };
  }

  /** The answer to navigator.credentials.get for these options. */
  get(options: { challenge: string; rpId?: string }) {
    const rpId = options.rpId ?? new URL(this.origin).hostname;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(++this.count);
    const authData = Buffer.concat([this.rpIdHash(rpId), Buffer.from([0x05]), counter]);
    const clientData = this.clientData("webauthn.get", options.challenge);
    const signature = sign("sha256", Buffer.concat([authData, createHash("sha256").update(clientData).digest()]), this.key);
    return {
      id: b64u(this.id),
      rawId: b64u(this.id),
      type: "public-key" as const,
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature) },
      clientExtensionResults: {},
    };
  }
}
