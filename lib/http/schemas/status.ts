// Moved to lib/contracts/status.ts; re-exported so existing imports keep working.
export * from "../../contracts/status";
