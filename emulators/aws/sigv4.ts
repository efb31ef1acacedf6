// AWS Signature Version 4 verification for the KMS emulator (single region, service "kms").
// The emulator verifies signatures fully so that tests can prove the broker signs with its own
// credentials and that a tampered request is refused, as a real endpoint would.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export class SigV4Error extends Error {
  constructor(
    readonly type:
      | "MissingAuthenticationTokenException"
      | "IncompleteSignatureException"
      | "UnrecognizedClientException"
      | "InvalidSignatureException",
    message: string,
  ) {
    super(message);
  }
}

const MAX_SKEW_MS = 5 * 60 * 1000;
const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

export const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

function parseAmzDate(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, se] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : v;
}

export interface VerifyInput {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  region: string;
  /** Credential-scope service: "kms" (default) or "sts" for GetCallerIdentity. */
  service?: string;
  now?: number;
}

/**
 * Verifies the request and returns the access key id. `lookupSecret` returns undefined for an
 * unknown key id. Error precedence follows what a real endpoint reports: a missing or malformed
 * header first, then an unknown key, then timing, then the signature itself.
 */
export function verifySigV4(input: VerifyInput, lookupSecret: (akid: string) => string | undefined): string {
  const auth = headerValue(input.headers, "authorization");
  if (!auth) throw new SigV4Error("MissingAuthenticationTokenException", "Missing Authentication Token");
  const m = AUTH_RE.exec(auth.trim());
  if (!m) {
    throw new SigV4Error(
      "IncompleteSignatureException",
      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters (AWS4-HMAC-SHA256).",
    );
  }
  const [, akid, scopeDate, scopeRegion, scopeService, signedHeadersRaw, signature] = m as unknown as string[];
  const signedHeaders = signedHeadersRaw!.split(";");
  const amzDate = headerValue(input.headers, "x-amz-date");
  if (!amzDate || !signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) {
    throw new SigV4Error("IncompleteSignatureException", "Signed headers must include host and x-amz-date.");
  }

  const secret = lookupSecret(akid!);
  if (secret === undefined) {
    throw new SigV4Error("UnrecognizedClientException", "The security token included in the request is invalid.");
  }

  const ts = parseAmzDate(amzDate);
  const now = input.now ?? Date.now();
  if (ts === null) throw new SigV4Error("IncompleteSignatureException", `Invalid X-Amz-Date: ${amzDate}`);
  if (Math.abs(now - ts) > MAX_SKEW_MS) {
    const nowStr = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    throw new SigV4Error(
      "InvalidSignatureException",
      `Signature expired: ${amzDate} is now earlier than ${nowStr} (${nowStr} - 5 min.)`,
    );
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    throw new SigV4Error("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from X-Amz-Date.");
  }
  const service = input.service ?? "kms";
  if (scopeRegion !== input.region || scopeService !== service) {
    throw new SigV4Error(
      "InvalidSignatureException",
      `Credential should be scoped to a valid region and service '${service}', not '${scopeRegion}/${scopeService}'.`,
    );
  }

  // The payload hash is always computed here; trusting x-amz-content-sha256 would leave the
  // body unauthenticated.
  const bodyHash = sha256Hex(input.body);
  const claimedHash = headerValue(input.headers, "x-amz-content-sha256");
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    throw new SigV4Error("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const canonicalHeaders = signedHeaders
    .map((h) => `${h}:${(headerValue(input.headers, h) ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const canonicalRequest = [
    input.method,
    input.path,
    canonicalQuery(input.query),
    canonicalHeaders,
    signedHeadersRaw,
    bodyHash,
  ].join("\n");
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const expected = createHmac("sha256", signingKey(secret, scopeDate!, scopeRegion!, scopeService!))
    .update(stringToSign)
    .digest();
  const given = Buffer.from(signature!, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SigV4Error(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
  }
  return akid!;
}

function canonicalQuery(query: string): string {
  if (!query) return "";
  return query
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf("=");
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? "" : p.slice(i + 1);
      return [k, v] as const;
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}
