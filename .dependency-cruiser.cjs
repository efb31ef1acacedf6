// Layer rules (`npm run deps:check`, part of `npm run check`). Data flows top to bottom, never back up
// (shared DESIGN.md, "Layers"):
//
//   server.ts, scripts/          composition: start the runtime, the demo, the emulators
//   app/                         console routes and pages (server side)
//   components/                  React UI; imports lib only as types, values only from client-safe catalogs
//   lib/runtime/                 composition root: assembles one broker instance
//   lib/http/                    the Fastify API
//   lib/auth/                    console sign-in, roles and permissions (below http: never imports it)
//   lib/broker/                  the domain: tenants, keys, data keys, cache, locks, prober
//   lib/contracts/               the API's request and response schemas (zod), below lib/broker and lib/http
//   lib/audit/                   the audit log
//   lib/kms/                     KMS providers
//   lib/db/                      database client, migrations
//   lib/crypto/, lib/config/,    pure: no I/O, nothing above them
//   lib/observability/
//
// Tests, end-to-end specs and benchmarks share testkit/; bench/ and e2e/ never import test/, and
// nothing in lib/ knows the emulators, the tests or the UI.

// The pure, client-safe catalogs components may import as values: audit actions, roles and
// permissions, and the pure helpers the console shares with the server (sign-in error messages,
// same-origin callback paths, the KMS key ownership tag, the data class name rule). client-catalogs-stay-pure keeps them so.
const CLIENT_CATALOGS = "^lib/audit/catalog\\.ts$|^lib/auth/(roles|permissions|sign-in-errors|callback-url)\\.ts$|^lib/kms/ownership-tag\\.ts$|^lib/contracts/class-name\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import cycles tangle the layers and make start-up order depend on import order (type-only imports count too).",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "Every import resolves to a file or an installed package.",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "lib-not-to-outside",
      severity: "error",
      comment: "The product (lib/) never imports the emulators, benchmarks, tests, their kit, the console UI, the scripts or the server entry.",
      from: { path: "^lib/" },
      to: { path: "^(emulators|bench|e2e|test|testkit|app|components|scripts)/|^server\\.ts$" },
    },
    {
      name: "production-not-to-dev-dependencies",
      severity: "error",
      comment: "What ships (lib/, app/, components/, server.ts) uses runtime dependencies only; dev dependencies may be imported as types.",
      from: { path: "^(lib|app|components)/|^server\\.ts$" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "crypto-is-pure",
      severity: "error",
      comment: "lib/crypto does no I/O: it imports only node:crypto, node:buffer and its own modules (no fs, net, http, database, KMS).",
      from: { path: "^lib/crypto/" },
      to: { pathNot: "^lib/crypto/|^(node:)?(crypto|buffer)$" },
    },
    {
      name: "config-is-pure",
      severity: "error",
      comment: "lib/config validates the environment; it depends on nothing else in lib/.",
      from: { path: "^lib/config/" },
      to: { path: "^lib/(?!config/)" },
    },
    {
      name: "observability-is-pure",
      severity: "error",
      comment: "Logging and failure counting sit below every layer that uses them.",
      from: { path: "^lib/observability/" },
      to: { path: "^lib/(?!observability/|config/)" },
    },
    {
      name: "db-below-domain",
      severity: "error",
      comment: "lib/db is below the audit log, the KMS providers and the domain.",
      from: { path: "^lib/db/" },
      to: { path: "^lib/(audit|auth|broker|http|kms|runtime)/" },
    },
    {
      name: "kms-below-broker",
      severity: "error",
      comment: "KMS providers know nothing of the domain, the audit log, the database or the API (lib/crypto <- lib/kms <- lib/broker).",
      from: { path: "^lib/kms/" },
      to: { path: "^lib/(audit|auth|broker|db|http|runtime)/" },
    },
    {
      name: "audit-below-broker",
      severity: "error",
      comment: "The audit log is written by the domain and the API, and never calls up into them.",
      from: { path: "^lib/audit/" },
      to: { path: "^lib/(auth|broker|http|kms|runtime)/" },
    },
    {
      name: "contracts-are-pure",
      severity: "error",
      comment: "lib/contracts (the API's request and response schemas, imported by lib/broker/operations and lib/http) imports only zod, lib/validation, the audit catalog, its own modules, and types of the audit log and broker errors; nothing with I/O, nothing above it.",
      from: { path: "^lib/contracts/" },
      to: {
        pathNot: "^lib/(contracts|validation)/|^lib/audit/catalog\\.ts$|zod",
        dependencyTypesNot: ["type-only"],
      },
    },
    {
      name: "contracts-types-only-from-below",
      severity: "error",
      comment: "lib/contracts may name types of lib/audit/types and lib/broker/errors, and nothing of the layers above it (http, broker values, db, kms, runtime, auth).",
      from: { path: "^lib/contracts/" },
      to: { path: "^lib/(http|broker|db|kms|runtime|auth|observability|config|crypto)/|^lib/audit/", pathNot: "^lib/audit/(catalog|types)\\.ts$|^lib/broker/errors\\.ts$" },
    },
    {
      name: "broker-below-http",
      severity: "error",
      comment: "The domain never imports the API or the composition root (lib/broker <- lib/http).",
      from: { path: "^lib/broker/" },
      to: { path: "^lib/(http|runtime)/" },
    },
    {
      name: "auth-below-http",
      severity: "error",
      comment: "Roles, permissions and console sign-in are used by the API, so they never import it.",
      from: { path: "^lib/auth/" },
      to: { path: "^lib/(http|runtime)/" },
    },
    {
      name: "http-below-runtime",
      severity: "error",
      comment: "Only the composition root (and server.ts, scripts, tests) assemble instances.",
      from: { path: "^lib/http/" },
      to: { path: "^lib/runtime/" },
    },
    {
      name: "components-lib-as-types",
      severity: "error",
      comment: "Console components run in the browser: they import lib/ only as types (z.infer of the API's schemas), except pure, client-safe catalogs (CLIENT_CATALOGS above).",
      from: { path: "^components/" },
      to: { path: "^lib/", pathNot: CLIENT_CATALOGS, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "client-catalogs-stay-pure",
      severity: "error",
      comment: "The catalogs components may import as values import nothing but types and other pure catalogs, so no server code reaches the browser bundle.",
      from: { path: CLIENT_CATALOGS },
      to: { pathNot: `${CLIENT_CATALOGS}|zod`, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "ui-not-to-test-code",
      severity: "error",
      comment: "The console (app/, components/) never imports emulators, tests or benchmarks.",
      from: { path: "^(app|components)/" },
      to: { path: "^(emulators|bench|e2e|test|testkit|scripts)/" },
    },
    {
      name: "bench-e2e-not-to-test",
      severity: "error",
      comment: "Benchmarks and end-to-end specs share testkit/ with the tests, never test/ itself.",
      from: { path: "^(bench|e2e)/" },
      to: { path: "^test/" },
    },
    {
      name: "client-package-is-standalone",
      comment: "packages/client (@cmek-broker/client) ships to other services on its own: it imports Node's built-ins and its own files, never the broker (its types are generated from lib/contracts instead).",
      severity: "error",
      from: { path: "^packages/client/src/" },
      to: { pathNot: "^packages/client/src/", dependencyTypesNot: ["core"] },
    },
    {
      name: "testkit-is-the-base",
      severity: "error",
      comment: "testkit/ is imported by tests, specs and benchmarks, and imports none of them.",
      from: { path: "^testkit/" },
      to: { path: "^(test|e2e|bench)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(lib/db/generated|\\.next|bench/next-route/\\.next|bench/results|data)/" },
    // Type-only imports are dependencies too (for cycles, and for the components rule that allows them).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
  },
};
