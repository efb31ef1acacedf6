// Key lifecycle, key policy, aliases and tags.
import { AwsError, type Body, str, stringList, tagList, validationError } from "./input";
import { metadata, notAuthorized, type KmsService, type Operation } from "./service";
import { aliasArn, type AwsPrincipal, type KeyRecord } from "./store";

/** Tag operations are "Cross-account use: No" in AWS: resolve, own account only, then the key policy. */
function ownKey(svc: KmsService, body: Body, caller: AwsPrincipal, op: string): KeyRecord {
  const key = svc.resolve(str(body, "KeyId", true), caller);
  svc.requireOwnAccount(caller, key, op);
  svc.authorize(caller, key, op, undefined);
  return key;
}

const enableOrDisable =
  (op: "EnableKey" | "DisableKey"): Operation =>
  (svc, body, caller) => {
    const key = svc.key(body, caller, op);
    svc.requireNotPendingDeletion(key);
    key.state = op === "EnableKey" ? "Enabled" : "Disabled";
    svc.store.changed();
    return undefined;
  };

const policyOperation =
  (op: "GetKeyPolicy" | "PutKeyPolicy"): Operation =>
  (svc, body, caller) => {
    const policyName = str(body, "PolicyName") ?? "default";
    if (policyName !== "default") throw new AwsError("NotFoundException", `Policy ${policyName} does not exist.`);
    const key = svc.key(body, caller, op);
    if (op === "GetKeyPolicy") return { Policy: key.policy, PolicyName: "default" };
    const policy = str(body, "Policy", true);
    svc.checkPolicy(policy);
    key.policy = policy;
    svc.store.changed();
    return undefined;
  };

export const keyOperations: Record<string, Operation> = {
  CreateKey(svc, body, caller) {
    const usage = str(body, "KeyUsage");
    const spec = str(body, "KeySpec") ?? str(body, "CustomerMasterKeySpec");
    const origin = str(body, "Origin");
    if ((usage && usage !== "ENCRYPT_DECRYPT") || (spec && spec !== "SYMMETRIC_DEFAULT") || (origin && origin !== "AWS_KMS") || body.MultiRegion === true) {
      throw new AwsError("UnsupportedOperationException", "This emulator supports only single-region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys with origin AWS_KMS.");
    }
    const policy = str(body, "Policy");
    if (policy !== undefined) svc.checkPolicy(policy);
    const tags = tagList(body.Tags);
    const description = str(body, "Description") ?? "";
    const key = svc.store.createKey(caller.accountId, description, policy, tags && Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])));
    return { KeyMetadata: metadata(key) };
  },

  DescribeKey: (svc, body, caller) => ({ KeyMetadata: metadata(svc.key(body, caller, "DescribeKey")) }),

  ListKeys(svc, _body, caller) {
    const keys = [...svc.store.keys.values()].filter((k) => k.accountId === caller.accountId);
    return { Keys: keys.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), Truncated: false };
  },

  EnableKey: enableOrDisable("EnableKey"),
  DisableKey: enableOrDisable("DisableKey"),

  ScheduleKeyDeletion(svc, body, caller) {
    const days = body.PendingWindowInDays ?? 30;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 7 || days > 30) {
      throw validationError("pendingWindowInDays", "Member must have value between 7 and 30");
    }
    const key = svc.key(body, caller, "ScheduleKeyDeletion");
    svc.requireNotPendingDeletion(key);
    key.state = "PendingDeletion";
    key.pendingWindowInDays = days;
    key.deletionDate = Math.floor(Date.now() / 1000) + days * 86400;
    svc.store.changed();
    return { KeyId: key.arn, DeletionDate: key.deletionDate, KeyState: key.state, PendingWindowInDays: days };
  },

  CancelKeyDeletion(svc, body, caller) {
    const key = svc.key(body, caller, "CancelKeyDeletion");
    if (key.state !== "PendingDeletion") throw new AwsError("KMSInvalidStateException", `${key.arn} is not pending deletion.`);
    // Like AWS: a cancelled deletion leaves the key Disabled; the owner must EnableKey.
    key.state = "Disabled";
    delete key.deletionDate;
    delete key.pendingWindowInDays;
    svc.store.changed();
    return { KeyId: key.arn };
  },

  GetKeyPolicy: policyOperation("GetKeyPolicy"),
  PutKeyPolicy: policyOperation("PutKeyPolicy"),

  CreateAlias(svc, body, caller) {
    const name = str(body, "AliasName", true);
    if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name)) throw validationError("aliasName", "Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$");
    if (name.startsWith("alias/aws/")) throw new AwsError("NotAuthorizedException", "Cannot create alias with prefix 'alias/aws/'");
    const target = str(body, "TargetKeyId", true);
    if (target.startsWith("alias/") || target.includes(":alias/")) throw new AwsError("ValidationException", "TargetKeyId must be a key ID or key ARN.");
    const key = svc.resolve(target, caller);
    if (key.accountId !== caller.accountId) throw new AwsError("AccessDeniedException", notAuthorized(caller, "CreateAlias", key.arn));
    const k = `${caller.accountId} ${name}`;
    if (svc.store.aliases.has(k)) throw new AwsError("AlreadyExistsException", `An alias with the name ${aliasArn(svc.region, caller.accountId, name)} already exists`);
    svc.store.aliases.set(k, key.keyId);
    svc.store.changed();
    return undefined;
  },

  DeleteAlias(svc, body, caller) {
    const name = str(body, "AliasName", true);
    if (!svc.store.aliases.delete(`${caller.accountId} ${name}`)) throw new AwsError("NotFoundException", `Alias ${aliasArn(svc.region, caller.accountId, name)} is not found.`);
    svc.store.changed();
    return undefined;
  },

  TagResource(svc, body, caller) {
    const tags = tagList(body.Tags);
    if (!tags || tags.length === 0) throw validationError("tags", "Member must not be null");
    const key = ownKey(svc, body, caller, "TagResource");
    svc.requireNotPendingDeletion(key);
    const merged = { ...key.tags, ...Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])) };
    if (Object.keys(merged).length > 50) throw new AwsError("TagException", "A KMS key can have at most 50 tags.");
    key.tags = merged;
    svc.store.changed();
    return undefined;
  },

  UntagResource(svc, body, caller) {
    const tagKeys = stringList(body.TagKeys, "tagKeys");
    const key = ownKey(svc, body, caller, "UntagResource");
    svc.requireNotPendingDeletion(key);
    const rest = { ...key.tags };
    for (const k of tagKeys) delete rest[k];
    if (Object.keys(rest).length) key.tags = rest;
    else delete key.tags;
    svc.store.changed();
    return undefined;
  },

  ListResourceTags(svc, body, caller) {
    const limit = body.Limit ?? 50;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 50) {
      throw validationError("limit", "Member must have value between 1 and 50");
    }
    const marker = str(body, "Marker");
    const start = marker === undefined ? 0 : Number(marker);
    if (!Number.isInteger(start) || start < 0) throw new AwsError("InvalidMarkerException", "The request was rejected because the marker that specifies where pagination should next begin is not valid.");
    const key = ownKey(svc, body, caller, "ListResourceTags");
    const all = Object.entries(key.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { Tags: page, Truncated: more, ...(more ? { NextMarker: String(start + limit) } : {}) };
  },
};
