// The alphabet of a data class name as plain values, so the console's add-class form checks a name
// as you type with the very rule ZDataClassName (./classes.ts) is built from. Pure: a client-safe
// catalog (.dependency-cruiser.cjs CLIENT_CATALOGS), nothing of zod reaches the browser.
export const DATA_CLASS_NAME_MAX = 32;
export const DATA_CLASS_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;
export const DATA_CLASS_NAME_RULE = "lowercase letters, digits, '_' and '-', starting with a letter (at most 32)";
export const DEFAULT_DATA_CLASS = "default";

/** Why `name` is not a name for a new class, or null when it is (the rules of ZCreateDataClassRequest). */
export function dataClassNameProblem(name: string): string | null {
  if (name.length === 0) return "Enter a name.";
  if (name.length > DATA_CLASS_NAME_MAX || !DATA_CLASS_NAME_PATTERN.test(name)) return `Use ${DATA_CLASS_NAME_RULE}.`;
  if (name === DEFAULT_DATA_CLASS) return "`default` always exists.";
  return null;
}
