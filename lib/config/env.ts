// Server configuration, validated once at start: every variable the broker reads is declared here
// (and in the README's configuration table), cross-field and production-only rules included, and
// every problem is reported together, by name. Nothing else reads process.env for the broker, and nothing
// writes it (the one exception: next-auth's own AUTH_TRUST_HOST, see lib/auth/bootstrap.ts).
import { z } from "zod";

const onOff = z.enum(["on", "off"]);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
/** A comma-separated list: entries trimmed, empty entries dropped. */
const list = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) =>
      v
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean),
    );
const intMs = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const BaseEnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  DATA_DIR: z.string().default("./data"),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
  ),
  BROKER_ADMIN_TOKEN: optionalString.pipe(z.string().min(24, "must be at least 24 characters").optional()),
  BROKER_EMULATORS: onOff.optional(),
  BROKER_DEMO: onOff.optional(),
  BROKER_INSTANCE_ID: optionalString,
  BROKER_DEK_CACHE_TTL_MS: intMs(300_000, 100, 3_600_000),
  BROKER_DEK_CACHE_MAX_USES: z.coerce.number().int().min(1).default(10_000_000),
  BROKER_DEK_CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(100_000),
  BROKER_PROBE_INTERVAL_MS: intMs(30_000, 200, 86_400_000),
  // Probe interval for keys whose tenant the KMS locked (to notice restoration); defaults to BROKER_PROBE_INTERVAL_MS.
  BROKER_LOCKED_PROBE_INTERVAL_MS: z.coerce.number().int().min(200).max(86_400_000).optional(),
  BROKER_PROBE_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
  BROKER_KMS_TIMEOUT_MS: intMs(2_000, 50, 60_000),
  // After an unreachable answer, cache misses for that key get 503 at once for this long instead of
  // each waiting out the timeout; probes keep checking. 0 turns it off.
  BROKER_KMS_CIRCUIT_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  // A class with a secondary key (issue 12): a cache miss asks the secondary too when the primary
  // is unavailable or has not answered within this budget; the first success wins. 0: ask both at once.
  BROKER_FAILOVER_HEDGE_MS: z.coerce.number().int().min(0).max(60_000).default(300),
  // Re-wrap jobs (lib/broker/lifecycle): KMS calls per second per tenant and per provider on one
  // instance (0: unlimited; the defaults are far below every cloud's published quotas), DEKs per
  // batch, how often an instance looks for work, and how long a job's lease lasts without renewal.
  BROKER_REWRAP_TENANT_RATE: z.coerce.number().min(0).max(100_000).default(20),
  BROKER_REWRAP_PROVIDER_RATE: z.coerce.number().min(0).max(100_000).default(50),
  BROKER_REWRAP_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(50),
  BROKER_REWRAP_SWEEP_MS: intMs(15_000, 50, 3_600_000),
  BROKER_REWRAP_LEASE_MS: intMs(30_000, 500, 3_600_000),
  // Encrypt/decrypt requests of one tenant in flight on one instance; more are answered 429 with Retry-After.
  BROKER_TENANT_MAX_INFLIGHT: z.coerce.number().int().min(1).max(1_000_000).default(2048),
  BROKER_AUDIT: onOff.default("on"),
  BROKER_AUDIT_DURABILITY: z.enum(["server", "disk"]).default("server"),
  // `off`: the API only, no console (tests, benchmarks, API-only deployments).
  BROKER_CONSOLE: onOff.default("on"),
  // `on`: webhooks may target private and loopback addresses (always allowed in the demo).
  BROKER_WEBHOOK_ALLOW_PRIVATE: onOff.default("off"),
  BROKER_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // Listener (lib/runtime/http-server.ts): idle keep-alive connections stay open this long (above
  // common load-balancer idle timeouts of 60 s); on SIGTERM requests in flight get this long to finish.
  BROKER_KEEP_ALIVE_TIMEOUT_MS: intMs(72_000, 1_000, 3_600_000),
  BROKER_SHUTDOWN_DRAIN_MS: intMs(25_000, 0, 600_000),
  // `on`: bind PORT with SO_REUSEPORT (Linux), so several instances on one machine share one port
  // and the kernel spreads connections over them: one instance per core (a Node process serves
  // requests on one core). Each is a full instance (own DEK cache, cluster bus, prober).
  BROKER_REUSE_PORT: onOff.default("off"),
  AWS_REGION: z.string().default("us-east-1"),
  AWS_ENDPOINT_URL_KMS: optionalString.pipe(z.url().optional()),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
  AZURE_KEYVAULT_ALLOWED_HOSTS: list(".vault.azure.net,.managedhsm.azure.net"),
  AZURE_TENANT_ID: optionalString,
  AZURE_CLIENT_ID: optionalString,
  AZURE_CLIENT_SECRET: optionalString,
  AZURE_AUTHORITY_HOST: optionalString.pipe(z.url().optional()),
  AZURE_KEYVAULT_CA_FILE: optionalString,
  GCP_KMS_ENDPOINT: optionalString,
  GCP_KMS_INSECURE_TOKEN: optionalString,
  // KMIP servers key references may name: exact host[:port] entries, or ".example.com" for one more label.
  BROKER_KMIP_ALLOWED_HOSTS: list(""),
  // Seals the per-tenant KMIP client private keys in the database; generated and kept in DATA_DIR when unset (outside production).
  BROKER_KMIP_SEALING_KEY: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
  // Push events (POST /api/v1/kms-events/*). SNS endpoints are trusted by host: sns.<region>.amazonaws.com
  // always, plus these exact host[:port] entries; the CA file is added to the public roots for those fetches.
  BROKER_SNS_CERT_HOSTS: list(""),
  BROKER_SNS_CA_FILE: optionalString,
  BROKER_SNS_TOPIC_ARNS: list(""),
  BROKER_EVENTGRID_SECRET: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
  BROKER_PUBSUB_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
  // Console sessions (next-auth). Required in production outside the demo; generated and kept in DATA_DIR otherwise.
  NEXTAUTH_SECRET: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
  NEXTAUTH_URL: optionalString.pipe(z.url({ protocol: /^https?$/, error: "must be the console's public http(s) URL" }).optional()),
  // Console SSO (OIDC); enabled when all three are set. Users are matched to console users by email.
  BROKER_OIDC_ISSUER: optionalString.pipe(z.url().optional()),
  BROKER_OIDC_CLIENT_ID: optionalString,
  BROKER_OIDC_CLIENT_SECRET: optionalString,
  BROKER_OIDC_NAME: optionalString,
  // The vendor identities named in the grant instructions the console shows tenants.
  BROKER_VENDOR_AWS_PRINCIPAL: optionalString,
  BROKER_VENDOR_AZURE_APP_ID: optionalString,
  BROKER_VENDOR_GCP_SERVICE_ACCOUNT: optionalString,
  // ---- KMS providers, the vendor's own identity, key ownership (lib/kms/registry.ts, lib/broker/vendor-faults.ts, lib/broker/key-ownership.ts)
  // Comma-separated subset of aws,azure,gcp,kmip,pkcs11; default (empty): every provider whose configuration is present (all three clouds with emulators or in the demo, KMIP and PKCS#11 when configured).
  BROKER_PROVIDERS: list("").pipe(z.array(z.enum(["aws", "azure", "gcp", "kmip", "pkcs11"], { error: "must be a comma-separated list of aws, azure, gcp, kmip, pkcs11" }))),
  // The broker's own AWS identity; an AccessDenied naming another caller is a vendor-side fault (never a lock).
  BROKER_AWS_PRINCIPAL_ARN: optionalString.pipe(z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/, "must be an IAM or STS principal ARN").optional()),
  // Vendor-owned canary keys: refused too means the vendor lost access, not that the tenant revoked. AWS: one key ARN per region, comma-separated.
  BROKER_AWS_CANARY_KEY_ARN: list(""),
  BROKER_AZURE_CANARY_KEY_ID: optionalString,
  BROKER_GCP_CANARY_KEY_NAME: optionalString,
  // How long one canary answer is trusted before the canary is asked again.
  BROKER_VENDOR_CANARY_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  // Require the key tag / label cmek-broker-tenant=<tenant id> when a key is connected; default on, off against emulators.
  BROKER_REQUIRE_KEY_OWNERSHIP_TAG: onOff.optional(),
  // Only read to tell whether AWS / GCP configuration is present (BROKER_PROVIDERS default); the SDKs read them themselves.
  AWS_PROFILE: optionalString,
  AWS_ROLE_ARN: optionalString,
  AWS_WEB_IDENTITY_TOKEN_FILE: optionalString,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: optionalString,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: optionalString,
  GOOGLE_APPLICATION_CREDENTIALS: optionalString,
  // PKCS#11 (lib/kms/pkcs11): the HSM's module is vendor configuration, never tenant input; enabled when the module is set.
  BROKER_PKCS11_MODULE: optionalString.pipe(z.string().regex(/^\//, "must be an absolute path to the PKCS#11 module (.so)").optional()),
  // One file per token, <token label>.pin (label percent-encoded like a pkcs11: URI value), holding that token's user PIN.
  BROKER_PKCS11_PIN_DIR: optionalString.pipe(z.string().regex(/^\//, "must be an absolute directory path").optional()),
  // Comma-separated token labels tenants may name; empty: any token that has a PIN file.
  BROKER_PKCS11_TOKENS: list(""),
  // CK_GCM_PARAMS layout the module expects: v240 (with ulIvBits, PKCS#11 v2.40+) or v220 (without it, older HSM firmware).
  BROKER_PKCS11_GCM_PARAMS: z.enum(["v240", "v220"]).default("v240"),
  // Sessions per token (each in-flight C_Encrypt/C_Decrypt holds one and a libuv worker thread: keep it below UV_THREADPOOL_SIZE, 4 by default).
  BROKER_PKCS11_SESSIONS: z.coerce.number().int().min(1).max(64).default(3),
  // How often the token PIN is proven again by logging out and in (a changed PIN is a revocation); default: BROKER_PROBE_INTERVAL_MS.
  BROKER_PKCS11_PIN_CHECK_MS: z.coerce.number().int().min(200).max(86_400_000).optional(),
  // ---- end of the KMS providers block
});

type ParsedEnv = z.infer<typeof BaseEnvSchema>;

/** Every variable the broker reads (the README's configuration table lists each). */
export const CONFIG_VARIABLES = Object.keys(BaseEnvSchema.shape) as ReadonlyArray<keyof ParsedEnv>;

const CLOUD_VARS = ["AWS_ENDPOINT_URL_KMS", "AWS_ACCESS_KEY_ID", "AZURE_CLIENT_ID", "GCP_KMS_ENDPOINT"] as const;

/** Demo mode and emulators follow from what is configured, unless set explicitly. */
function deriveMode(env: ParsedEnv): { demo: boolean; emulators: boolean } {
  const nothingConfigured = !env.DATABASE_URL && CLOUD_VARS.every((k) => !env[k]);
  return {
    demo: env.BROKER_DEMO ? env.BROKER_DEMO === "on" : nothingConfigured,
    emulators: env.BROKER_EMULATORS ? env.BROKER_EMULATORS === "on" : CLOUD_VARS.every((k) => !env[k]),
  };
}

// The rules run even when some variables are invalid (`when`), so that one error lists every problem;
// a value that failed its own check is then the raw string, and the rules treat it as not set/not matching.
const EnvSchema = BaseEnvSchema.superRefine(
  (env, ctx) => {
    const problem = (name: keyof ParsedEnv, message: string) => ctx.addIssue({ code: "custom", path: [name], message });
    if (env.GCP_KMS_ENDPOINT && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(env.GCP_KMS_ENDPOINT)) problem("GCP_KMS_ENDPOINT", "must be host or host:port");
    const oidc = [env.BROKER_OIDC_ISSUER, env.BROKER_OIDC_CLIENT_ID, env.BROKER_OIDC_CLIENT_SECRET].filter(Boolean).length;
    if (oidc !== 0 && oidc !== 3) problem("BROKER_OIDC_ISSUER", "set BROKER_OIDC_ISSUER, BROKER_OIDC_CLIENT_ID and BROKER_OIDC_CLIENT_SECRET together");
    if (env.GCP_KMS_INSECURE_TOKEN && !env.GCP_KMS_ENDPOINT) problem("GCP_KMS_INSECURE_TOKEN", "only makes sense with GCP_KMS_ENDPOINT (emulator)");
    if (Array.isArray(env.BROKER_PROVIDERS) && env.BROKER_PROVIDERS.includes("pkcs11") && !(env.BROKER_PKCS11_MODULE && env.BROKER_PKCS11_PIN_DIR)) {
      problem("BROKER_PROVIDERS", "pkcs11 is enabled but BROKER_PKCS11_MODULE and BROKER_PKCS11_PIN_DIR are not both set");
    }
    if (Array.isArray(env.BROKER_PROVIDERS) && env.BROKER_PROVIDERS.includes("azure") && !(env.AZURE_TENANT_ID && env.AZURE_CLIENT_ID && env.AZURE_CLIENT_SECRET)) {
      problem("BROKER_PROVIDERS", "azure is enabled but AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set");
    }
    // Production outside the demo: nothing may be generated, so the secrets and the console's URL must be given.
    if (env.NODE_ENV !== "production" || deriveMode(env).demo) return;
    if (!env.BROKER_ADMIN_TOKEN) {
      problem("BROKER_ADMIN_TOKEN", "required in production (set a random value of at least 24 characters, or BROKER_DEMO=on for a throwaway demo)");
    }
    if (env.BROKER_CONSOLE === "on" && !env.NEXTAUTH_SECRET) {
      problem("NEXTAUTH_SECRET", "required in production for the console (a random value of at least 32 characters; or BROKER_CONSOLE=off)");
    }
    if (Array.isArray(env.BROKER_KMIP_ALLOWED_HOSTS) && env.BROKER_KMIP_ALLOWED_HOSTS.length > 0 && !env.BROKER_KMIP_SEALING_KEY) {
      problem("BROKER_KMIP_SEALING_KEY", "required in production when KMIP is enabled (a random value of at least 32 characters; it seals the per-tenant KMIP client keys)");
    }
    if (env.BROKER_CONSOLE === "on" && !env.NEXTAUTH_URL) {
      problem("NEXTAUTH_URL", "required in production for the console (its public URL, e.g. https://cmek.example.com; or BROKER_CONSOLE=off)");
    }
  },
  { when: () => true },
);

export type RawEnv = ParsedEnv;

export interface BrokerConfig extends RawEnv {
  /** Demo mode: nothing configured, so embedded PGlite, local emulators, seeded demo data, generated admin token. */
  demo: boolean;
  emulators: boolean;
  instanceId: string;
  BROKER_LOCKED_PROBE_INTERVAL_MS: number;
}

/** A configuration problem: its message names every bad variable and is meant to be printed alone. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function configError(error: z.ZodError): ConfigError {
  const lines = error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  return new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

export function loadConfig(source: Record<string, string | undefined> = process.env): BrokerConfig {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) throw configError(parsed.error);
  const env = parsed.data;
  return {
    ...env,
    ...deriveMode(env),
    instanceId: env.BROKER_INSTANCE_ID ?? `i-${process.pid}-${Date.now().toString(36)}`,
    BROKER_LOCKED_PROBE_INTERVAL_MS: env.BROKER_LOCKED_PROBE_INTERVAL_MS ?? env.BROKER_PROBE_INTERVAL_MS,
  };
}

const DatabaseEnvSchema = BaseEnvSchema.pick({ DATABASE_URL: true, DATA_DIR: true });

/** Only what the migration script needs (it runs without the server's secrets). */
export function loadDatabaseConfig(source: Record<string, string | undefined> = process.env): z.infer<typeof DatabaseEnvSchema> {
  const parsed = DatabaseEnvSchema.safeParse(source);
  if (!parsed.success) throw configError(parsed.error);
  return parsed.data;
}
