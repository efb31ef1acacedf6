// A token's scope in the console: the form's draft, the request fields it becomes, and the label
// the list shows ("encrypt only · pii, billing"). Class names are checked with the API's own rule.
import { DATA_CLASS_NAME_RULE, isDataClassName } from "@/lib/contracts/class-name";
import type { TokenRow } from "./types";

export type OperationChoice = "both" | "encrypt" | "decrypt";

export interface ScopeDraft {
  operations: OperationChoice;
  /** "all": every class, present and future; "chosen": only `classes`. */
  classMode: "all" | "chosen";
  /** The chosen classes, as typed (comma-separated) or ticked. */
  classes: string;
}

export const EMPTY_SCOPE: ScopeDraft = { operations: "both", classMode: "all", classes: "" };

export type ScopeFields = { operations?: Array<"encrypt" | "decrypt">; dataClasses?: string[] };

/** The class names of a comma-separated list, trimmed, without blanks or repeats. */
export function classList(text: string): string[] {
  return [...new Set(text.split(",").map((s) => s.trim()).filter(Boolean))];
}

/** The draft as POST /tokens fields, or what is wrong with it. */
export function scopeFields(draft: ScopeDraft): { ok: true; fields: ScopeFields } | { ok: false; error: string } {
  const fields: ScopeFields = draft.operations === "both" ? {} : { operations: [draft.operations] };
  if (draft.classMode === "all") return { ok: true, fields };
  const names = classList(draft.classes);
  if (names.length === 0) return { ok: false, error: "Name at least one class, or choose all classes." };
  const bad = names.find((n) => !isDataClassName(n));
  if (bad !== undefined) return { ok: false, error: `"${bad}" is not a class name: ${DATA_CLASS_NAME_RULE}.` };
  return { ok: true, fields: { ...fields, dataClasses: names } };
}

/** "encrypt only · pii, billing", "encrypt and decrypt · all classes". */
export function scopeLabel(scope: TokenRow["scope"]): string {
  const ops = scope.operations.length === 1 ? `${scope.operations[0]} only` : "encrypt and decrypt";
  return `${ops} · ${scope.dataClasses ? scope.dataClasses.join(", ") : "all classes"}`;
}
