// Parsing and checking an Azure Key Vault / Managed HSM key reference against the allowed hosts
// (the SSRF guard): endpoints come from configuration, never from tenant input.
import { KmsError } from "./types";

const MAX_KEY_ID_LENGTH = 2048;
const NAME_RE = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION_RE = /^[0-9a-fA-F]{32}$/;
// One DNS label in front of an allowed suffix: vault and HSM names are single labels.
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ParsedKeyRef {
  /** "https://host[:port]" */
  origin: string;
  name: string;
  version: string | null;
  /** Matched an exact host:port entry (emulator / private endpoint) rather than an Azure suffix. */
  exactHost: boolean;
}

const invalid = (message: string, providerCode?: string) =>
  new KmsError("invalid", "azure", message, providerCode ? { providerCode } : {});

export function parseAzureKeyRef(keyId: string, allowed: readonly string[]): ParsedKeyRef {
  if (typeof keyId !== "string" || keyId.length === 0) throw invalid("Azure key reference must be a non-empty string");
  if (keyId.length > MAX_KEY_ID_LENGTH) throw invalid(`Azure key reference is longer than ${MAX_KEY_ID_LENGTH} characters`);
  // The WHATWG parser silently drops tabs/newlines and normalises paths; refuse such input
  // instead of validating something other than what was registered.
  if (!/^[\x21-\x7e]+$/.test(keyId)) throw invalid("Azure key reference contains whitespace or non-ASCII characters");
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(keyId)?.[1]?.toLowerCase();
  if (scheme !== "https") throw invalid(`Azure key reference must use https (got ${scheme ? `"${scheme}:"` : "no scheme"})`);
  if (keyId.includes("?")) throw invalid("Azure key reference must not contain a query string");
  if (keyId.includes("#")) throw invalid("Azure key reference must not contain a fragment");
  if (keyId.includes("\\")) throw invalid("Azure key reference must not contain backslashes");
  const m = /^https:\/\/([^/]*)(\/.*)?$/i.exec(keyId);
  if (!m) throw invalid("Azure key reference must start with https://<host>/");
  const authority = m[1]!;
  const rawPath = m[2] ?? "";
  if (authority.includes("@")) throw invalid("Azure key reference must not contain user info (\"user@\") in its host");
  let url: URL;
  try {
    url = new URL(keyId);
  } catch {
    throw invalid("Azure key reference is not a valid URL");
  }
  if (url.username || url.password) throw invalid("Azure key reference must not contain user info");
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  let exactHost = false;
  const ok = allowed.some((entry) => {
    if (entry.startsWith(".")) {
      if (url.port !== "" || !hostname.endsWith(entry)) return false;
      return LABEL_RE.test(hostname.slice(0, -entry.length));
    }
    if (host === entry) {
      exactHost = true;
      return true;
    }
    return false;
  });
  if (!ok) throw invalid(`Azure key host "${host}" is not allowed (allowed: ${allowed.join(", ")})`);
  const pm = /^\/keys\/([^/]+)(?:\/([^/]+))?$/.exec(rawPath);
  if (!pm) throw invalid(`Azure key reference path must be /keys/<name>[/<version>] (got "${rawPath || "/"}")`);
  const name = pm[1]!;
  const version = pm[2] ?? null;
  if (!NAME_RE.test(name)) throw invalid(`Azure key name "${name}" must be 1-127 characters of 0-9, a-z, A-Z and "-"`);
  if (version !== null && !VERSION_RE.test(version)) throw invalid(`Azure key version "${version}" must be 32 hex characters`);
  if (url.pathname !== rawPath) throw invalid("Azure key reference path is not in canonical form");
  return { origin: `https://${host}`, name, version, exactHost };
}

