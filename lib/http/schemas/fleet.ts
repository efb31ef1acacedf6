// Moved to lib/contracts/fleet.ts; re-exported so existing imports keep working.
export * from "../../contracts/fleet";
