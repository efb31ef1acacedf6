// kmip://host[:port]/<unique-identifier>: the server and the key's Unique Identifier. The host
// must be on the broker's allow-list (BROKER_KMIP_ALLOWED_HOSTS), so a tenant cannot point the
// broker at an arbitrary address (SSRF). Entries with a leading dot match one more DNS label in
// front ("kms.example.com" for ".example.com"); others must equal host[:port] exactly.
import { KmsError } from "../types";

export const KMIP_DEFAULT_PORT = 5696;

export interface KmipKeyRef {
  host: string;
  port: number;
  uid: string;
}

const invalid = (message: string) => new KmsError("invalid", "kmip", message, { providerCode: "invalid_key_ref" });

/** Unique Identifiers are server-chosen text; this is what servers use (UUIDs, integers, names). */
const UID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3})$/;

export function parseKmipKeyRef(keyId: string, allowed: readonly string[]): KmipKeyRef {
  if (typeof keyId !== "string" || keyId.length > 512) throw invalid("a KMIP key reference is kmip://host:port/<unique-identifier>");
  const m = /^kmip:\/\/([^/:]+)(?::(\d{1,5}))?\/([^/?#]+)$/i.exec(keyId.trim());
  if (!m) throw invalid("a KMIP key reference is kmip://host:port/<unique-identifier>");
  const host = m[1]!.toLowerCase();
  const port = m[2] ? Number(m[2]) : KMIP_DEFAULT_PORT;
  let uid: string;
  try {
    uid = decodeURIComponent(m[3]!);
  } catch {
    throw invalid("the Unique Identifier is not valid percent-encoding");
  }
  if (!HOST.test(host)) throw invalid(`"${host}" is not a host name or IPv4 address`);
  if (port < 1 || port > 65535) throw invalid(`port ${port} is out of range`);
  if (!UID.test(uid)) throw invalid("the Unique Identifier must be 1-128 characters of letters, digits and . _ : @ -");
  if (!hostAllowed(host, port, allowed)) {
    throw new KmsError("invalid", "kmip", `KMIP server ${host}:${port} is not on this broker's allow-list (BROKER_KMIP_ALLOWED_HOSTS)`, { providerCode: "host_not_allowed" });
  }
  return { host, port, uid };
}

function hostAllowed(host: string, port: number, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (!e) return false;
    if (e.startsWith(".")) {
      if (!host.endsWith(e)) return false;
      const label = host.slice(0, -e.length);
      return label.length > 0 && !label.includes(".");
    }
    return e === `${host}:${port}` || (e === host && port === KMIP_DEFAULT_PORT);
  });
}

export function formatKmipKeyRef(ref: KmipKeyRef): string {
  return `kmip://${ref.host}:${ref.port}/${ref.uid}`;
}
