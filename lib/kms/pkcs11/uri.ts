// The tenant's PKCS#11 key reference: an RFC 7512 `pkcs11:` URI naming a token (by label, and
// optionally serial) and one secret-key object on it (by label, id or both). Strictly validated:
// only the path attributes that select a key are accepted, and the query attributes that would
// carry a PIN (`pin-value`, `pin-source`) or load code (`module-path`, `module-name`) are refused:
// the module and the PIN are the vendor's configuration, never tenant input.
import { KmsError } from "../types";

export interface Pkcs11KeyRef {
  /** CKA_LABEL of the token (CK_TOKEN_INFO.label, without its blank padding). */
  token: string;
  /** CK_TOKEN_INFO.serialNumber, when the tenant pins the token's serial. */
  serial: string | null;
  /** CKA_LABEL of the key object. */
  object: string | null;
  /** CKA_ID of the key object. */
  id: Buffer | null;
}

const MAX_URI_LENGTH = 1024;
/** RFC 7512 `pk11-pchar`: unreserved, the sub-delims allowed in a path value, ":", "[", "]", "@", "!", "$", "'", "(", ")", "*", "+", ",", "=", "&" and pct-encoded. */
const PCHAR_RE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=&]|%[0-9A-Fa-f]{2})*$/;
const ALLOWED = new Set(["token", "serial", "object", "id", "type"]);
const REFUSED_QUERY = /(?:^|[?&])(pin-value|pin-source|module-path|module-name)=/;

const invalid = (why: string) =>
  new KmsError("invalid", "pkcs11", `Invalid PKCS#11 key reference: ${why}. Expected pkcs11:token=<token label>;object=<key label> (or ;id=%01%02), as RFC 7512 defines.`);

function decode(attr: string, raw: string): Buffer {
  if (!PCHAR_RE.test(raw)) throw invalid(`the value of "${attr}" has characters that must be percent-encoded`);
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%") {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(raw.charCodeAt(i));
    }
  }
  return Buffer.from(bytes);
}

function utf8(attr: string, b: Buffer, max: number): string {
  const s = new TextDecoder("utf-8", { fatal: false }).decode(b);
  if (s.includes("\uFFFD") || !Buffer.from(s, "utf8").equals(b)) throw invalid(`"${attr}" is not valid UTF-8`);
  if (b.length === 0) throw invalid(`"${attr}" is empty`);
  if (b.length > max) throw invalid(`"${attr}" is longer than ${max} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) throw invalid(`"${attr}" contains control characters`);
  return s;
}

export function parsePkcs11Uri(keyId: string): Pkcs11KeyRef {
  if (typeof keyId !== "string" || keyId.length === 0) throw invalid("empty");
  if (keyId.length > MAX_URI_LENGTH) throw invalid(`longer than ${MAX_URI_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(keyId)) throw invalid("contains whitespace or non-ASCII characters (percent-encode them)");
  if (!/^pkcs11:/i.test(keyId)) throw invalid('must start with "pkcs11:"');
  const rest = keyId.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? "" : rest.slice(q + 1);
  const refused = REFUSED_QUERY.exec(`?${query}`);
  if (refused) throw invalid(`"${refused[1]}" is not accepted: the PKCS#11 module and the token PIN are configured by the vendor, never in the key reference`);
  if (query) throw invalid("query attributes are not accepted");
  if (keyId.includes("#")) throw invalid("a fragment is not accepted");
  const seen = new Map<string, Buffer>();
  for (const part of path.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw invalid(`"${part}" is not an attribute=value pair`);
    const attr = part.slice(0, eq).toLowerCase();
    if (!ALLOWED.has(attr)) throw invalid(`attribute "${attr}" is not accepted (use token, serial, object, id, type)`);
    if (seen.has(attr)) throw invalid(`attribute "${attr}" appears twice`);
    seen.set(attr, decode(attr, part.slice(eq + 1)));
  }
  const token = seen.get("token");
  if (!token) throw invalid('"token" (the token label) is required');
  const type = seen.get("type");
  if (type && type.toString() !== "secret-key") throw invalid('"type" must be secret-key (an AES key)');
  const object = seen.get("object");
  const id = seen.get("id");
  if (!object && !id) throw invalid('name the key by "object" (its label), "id", or both');
  if (id && (id.length === 0 || id.length > 64)) throw invalid('"id" must be 1-64 bytes');
  const serial = seen.get("serial");
  return {
    token: utf8("token", token, 32),
    serial: serial ? utf8("serial", serial, 16) : null,
    object: object ? utf8("object", object, 128) : null,
    id: id ? Buffer.from(id) : null,
  };
}

/** Percent-encodes everything but RFC 3986 unreserved characters; `id` is always fully encoded (bytes). */
function encodeText(s: string): string {
  return [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

/** The one stored spelling: attributes in a fixed order, values canonically encoded, `type` dropped (always secret-key). */
export function formatPkcs11Uri(ref: Pkcs11KeyRef): string {
  const parts = [`token=${encodeText(ref.token)}`];
  if (ref.serial) parts.push(`serial=${encodeText(ref.serial)}`);
  if (ref.object) parts.push(`object=${encodeText(ref.object)}`);
  if (ref.id) parts.push(`id=${[...ref.id].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("")}`);
  return `pkcs11:${parts.join(";")}`;
}

/** The PIN file of a token: its label encoded as in the URI (so any label maps to one safe file name). */
export function pinFileName(tokenLabel: string): string {
  return `${encodeText(tokenLabel)}.pin`;
}
