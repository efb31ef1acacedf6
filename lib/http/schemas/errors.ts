// Moved to lib/contracts/errors.ts; re-exported so existing imports keep working.
export * from "../../contracts/errors";
