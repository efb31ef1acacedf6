// Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand
// and ListKeyRotations, with the request and response shapes of @aws-sdk/client-kms. Rotation
// makes new material current and keeps every earlier one for Decrypt, as AWS does for keys of
// origin AWS_KMS. Unlike AWS, automatic rotation never fires by itself here (its period is at
// least 90 days) and an on-demand rotation completes at once.
import { AwsError, str, validationError } from "./input";
import type { Operation } from "./service";
import { currentMaterialId } from "./store";

const MAX_ON_DEMAND_ROTATIONS = 25;

export const rotationOperations: Record<string, Operation> = {
  EnableKeyRotation(svc, body, caller) {
    const days = body.RotationPeriodInDays ?? 365;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 90 || days > 2560) {
      throw validationError("rotationPeriodInDays", "Member must have value between 90 and 2560");
    }
    const key = svc.key(body, caller, "EnableKeyRotation");
    svc.requireUsable(key);
    key.autoRotation = { periodDays: days, since: Date.now() / 1000 };
    svc.store.changed();
    return undefined;
  },

  DisableKeyRotation(svc, body, caller) {
    const key = svc.key(body, caller, "DisableKeyRotation");
    svc.requireUsable(key);
    delete key.autoRotation;
    svc.store.changed();
    return undefined;
  },

  GetKeyRotationStatus(svc, body, caller) {
    const key = svc.key(body, caller, "GetKeyRotationStatus");
    svc.requireNotPendingDeletion(key);
    const auto = key.autoRotation;
    const last = key.rotations?.filter((r) => r.type === "AUTOMATIC").at(-1)?.date ?? auto?.since ?? 0;
    return {
      KeyRotationEnabled: auto !== undefined,
      KeyId: key.arn,
      ...(auto ? { RotationPeriodInDays: auto.periodDays, NextRotationDate: Math.max(last, auto.since) + auto.periodDays * 86400 } : {}),
    };
  },

  RotateKeyOnDemand(svc, body, caller) {
    const key = svc.key(body, caller, "RotateKeyOnDemand");
    svc.requireUsable(key);
    if ((key.rotations ?? []).filter((r) => r.type === "ON_DEMAND").length >= MAX_ON_DEMAND_ROTATIONS) {
      throw new AwsError("LimitExceededException", `The key ${key.arn} has reached the maximum number of on-demand rotations.`);
    }
    svc.store.rotate(key, "ON_DEMAND");
    return { KeyId: key.arn };
  },

  ListKeyRotations(svc, body, caller) {
    const limit = body.Limit ?? 100;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) throw validationError("limit", "Member must have value between 1 and 1000");
    const include = str(body, "IncludeKeyMaterial") ?? "ROTATIONS_ONLY";
    if (include !== "ROTATIONS_ONLY" && include !== "ALL_KEY_MATERIAL") throw validationError("includeKeyMaterial", "Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]");
    const marker = str(body, "Marker");
    const start = marker === undefined ? 0 : Number(marker);
    if (!Number.isInteger(start) || start < 0) throw new AwsError("InvalidMarkerException", "The request was rejected because the marker that specifies where pagination should next begin is not valid.");
    const key = svc.key(body, caller, "ListKeyRotations");
    const current = currentMaterialId(key);
    const state = (id: string) => (id === current ? "CURRENT" : "NON_CURRENT");
    const rotations = (key.rotations ?? []).map((r) => ({ KeyId: key.arn, KeyMaterialId: r.id, KeyMaterialState: state(r.id), RotationDate: r.date, RotationType: r.type }));
    // ALL_KEY_MATERIAL also lists the material the key was created with, which has no rotation date.
    const initial = key.pastMaterials?.[0]?.id ?? current;
    const all = include === "ALL_KEY_MATERIAL" ? [{ KeyId: key.arn, KeyMaterialId: initial, KeyMaterialState: state(initial) }, ...rotations] : rotations;
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { Rotations: page, Truncated: more, ...(more ? { NextMarker: String(start + limit) } : {}) };
  },
};
