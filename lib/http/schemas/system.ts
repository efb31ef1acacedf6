// Moved to lib/contracts/system.ts; re-exported so existing imports keep working.
export * from "../../contracts/system";
