// A token's scope in the console: the form's draft, the request fields it becomes, and the label
// the list shows ("encrypt only · pii, billing").
import type { TokenRow } from "./types";

export type OperationChoice = "both" | "encrypt" | "decrypt";

export interface ScopeDraft {
  operations: OperationChoice;
  /** "all": every class, present and future; "chosen": only `classes`. */
  classMode: "all" | "chosen";
  /** The chosen classes, in the order the tenant lists them. */
  classes: string[];
}

export const EMPTY_SCOPE: ScopeDraft = { operations: "both", classMode: "all", classes: [] };

export type ScopeFields = { operations?: Array<"encrypt" | "decrypt">; dataClasses?: string[] };

/** The draft as POST /tokens fields, or what is wrong with it. */
export function scopeFields(draft: ScopeDraft): { ok: true; fields: ScopeFields } | { ok: false; error: string } {
  const fields: ScopeFields = draft.operations === "both" ? {} : { operations: [draft.operations] };
  if (draft.classMode === "all") return { ok: true, fields };
  if (draft.classes.length === 0) return { ok: false, error: "Choose at least one class, or all classes." };
  return { ok: true, fields: { ...fields, dataClasses: draft.classes } };
}

/** "encrypt only · pii, billing", "encrypt and decrypt · all classes". */
export function scopeLabel(scope: TokenRow["scope"]): string {
  const ops = scope.operations.length === 1 ? `${scope.operations[0]} only` : "encrypt and decrypt";
  return `${ops} · ${scope.dataClasses ? scope.dataClasses.join(", ") : "all classes"}`;
}
