// AWS JSON 1.1 request members: the typed error the transport answers with, and readers that
// refuse wrong types and out-of-range values with the names and texts a real endpoint uses.

export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type Body = Record<string, unknown>;
export type Ctx = Record<string, string> | undefined;

const lcFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

export function validationError(member: string, constraint: string): AwsError {
  return new AwsError("ValidationException", `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`);
}

export function str(body: Body, name: string, required: true): string;
export function str(body: Body, name: string, required?: false): string | undefined;
export function str(body: Body, name: string, required = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw validationError(lcFirst(name), "Member must not be null");
    return undefined;
  }
  if (typeof v !== "string") throw new AwsError("SerializationException", `${name} must be a string`);
  if (required && v.length === 0) throw validationError(lcFirst(name), "Member must have length greater than or equal to 1");
  return v;
}

export function blob(body: Body, name: string, min: number, max: number, required: boolean): Buffer | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw validationError(lcFirst(name), "Member must not be null");
    return undefined;
  }
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new AwsError("SerializationException", `${name} must be a base64-encoded blob`);
  }
  const b = Buffer.from(v, "base64");
  if (b.length < min) throw validationError(lcFirst(name), `Member must have length greater than or equal to ${min}`);
  if (b.length > max) throw validationError(lcFirst(name), `Member must have length less than or equal to ${max}`);
  return b;
}

export function stringMap(v: unknown, name: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new AwsError("SerializationException", `${name} must be a map`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw new AwsError("SerializationException", `${name} values must be strings`);
    if (k.length === 0) throw validationError(lcFirst(name), "Map keys must have length greater than or equal to 1");
  }
  return v as Record<string, string>;
}

export function checkAlgorithm(body: Body): void {
  const alg = str(body, "EncryptionAlgorithm");
  if (alg !== undefined && alg !== "SYMMETRIC_DEFAULT") {
    throw new AwsError("InvalidKeyUsageException", `The key does not support the ${alg} encryption algorithm.`);
  }
}

const MAX_TAGS = 50;

/** `Tags: [{TagKey, TagValue}]` as in the KMS model (Tag: TagKey 1..128, TagValue 0..256). */
export function tagList(v: unknown, member = "tags"): Array<{ TagKey: string; TagValue: string }> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new AwsError("SerializationException", "Tags must be a list");
  const out: Array<{ TagKey: string; TagValue: string }> = [];
  for (const [i, t] of v.entries()) {
    if (!t || typeof t !== "object" || Array.isArray(t)) throw new AwsError("SerializationException", "Tags members must be structures");
    const { TagKey, TagValue } = t as Body;
    if (typeof TagKey !== "string" || TagKey.length < 1 || TagKey.length > 128) {
      throw validationError(`${member}.${i + 1}.member.tagKey`, "Member must have length between 1 and 128");
    }
    if (typeof TagValue !== "string" || TagValue.length > 256) {
      throw validationError(`${member}.${i + 1}.member.tagValue`, "Member must have length less than or equal to 256");
    }
    out.push(tagOk(TagKey, TagValue));
  }
  if (out.length > MAX_TAGS) throw new AwsError("TagException", `A KMS key can have at most ${MAX_TAGS} tags.`);
  return out;
}

function tagOk(TagKey: string, TagValue: string): { TagKey: string; TagValue: string } {
  if (/^aws:/i.test(TagKey)) throw new AwsError("TagException", "Tag keys beginning with aws: are reserved for AWS use.");
  return { TagKey, TagValue };
}

export function stringList(v: unknown, member: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw validationError(member, "Member must not be null");
  if (v.some((x) => typeof x !== "string")) throw new AwsError("SerializationException", `${member} must be a list of strings`);
  return v as string[];
}
