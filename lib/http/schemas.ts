// Request and response schemas of the HTTP API now live in lib/contracts (below lib/broker, which
// exports each operation's schemas beside it); this re-export keeps existing imports working.
export * from "../contracts/requests";
export * from "../contracts/tokens";
