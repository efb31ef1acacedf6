// Moved to lib/contracts/audit.ts; re-exported so existing imports keep working.
export * from "../../contracts/audit";
