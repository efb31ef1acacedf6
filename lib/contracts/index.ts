// The API's request and response schemas, below both the domain (lib/broker/operations export
// theirs from here) and the Fastify API (lib/http validates with them and builds the OpenAPI document).
export * from "./requests";
export * from "./batch";
export * from "./error-codes";
export * from "./errors";
export * from "./status";
export * from "./tenants";
export * from "./audit";
export * from "./fleet";
export * from "./system";
export * from "./route-requests";
export * from "./governance";
export * from "./shredding";
export * from "./lifecycle";
export * from "./quorum";
export * from "./classes";
export * from "./tokens";
