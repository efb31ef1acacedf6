// Moved to lib/contracts/tenants.ts; re-exported so existing imports keep working.
export * from "../../contracts/tenants";
