// The data class name rule (issue 12), pure so that the console's forms check exactly what the
// API's schema (ZDataClassName in ./classes.ts) accepts. A small alphabet: safe in URLs, headers,
// metrics labels and audit entries.

export const DATA_CLASS_NAME_MAX = 32;
export const DATA_CLASS_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;
export const DATA_CLASS_NAME_RULE = "lowercase letters, digits, '_' and '-', starting with a letter (at most 32)";

export function isDataClassName(name: string): boolean {
  return name.length >= 1 && name.length <= DATA_CLASS_NAME_MAX && DATA_CLASS_NAME_PATTERN.test(name);
}
