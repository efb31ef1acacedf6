// Server configuration, validated once at start. Every problem is reported together, by name.
import { z } from "zod";

const onOff = z.enum(["on", "off"]);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const intMs = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default("127.0.0.1"),
    DATA_DIR: z.string().default("./data"),
    DATABASE_URL: optionalString.pipe(z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL").optional()),
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
    BROKER_AUDIT: onOff.default("on"),
    BROKER_AUDIT_DURABILITY: z.enum(["server", "disk"]).default("server"),
    BROKER_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // Listener (lib/runtime/http-server.ts): idle keep-alive connections stay open this long (above
    // common load-balancer idle timeouts of 60 s); on SIGTERM requests in flight get this long to finish.
    BROKER_KEEP_ALIVE_TIMEOUT_MS: intMs(72_000, 1_000, 3_600_000),
    BROKER_SHUTDOWN_DRAIN_MS: intMs(25_000, 0, 600_000),
    AWS_REGION: z.string().default("us-east-1"),
    AWS_ENDPOINT_URL_KMS: optionalString.pipe(z.url().optional()),
    AWS_ACCESS_KEY_ID: optionalString,
    AWS_SECRET_ACCESS_KEY: optionalString,
    AWS_SESSION_TOKEN: optionalString,
    AZURE_KEYVAULT_ALLOWED_HOSTS: z.string().default(".vault.azure.net,.managedhsm.azure.net"),
    AZURE_TENANT_ID: optionalString,
    AZURE_CLIENT_ID: optionalString,
    AZURE_CLIENT_SECRET: optionalString,
    AZURE_AUTHORITY_HOST: optionalString.pipe(z.url().optional()),
    AZURE_KEYVAULT_CA_FILE: optionalString,
    GCP_KMS_ENDPOINT: optionalString,
    GCP_KMS_INSECURE_TOKEN: optionalString,
    // Push events (POST /api/v1/kms-events/*). SNS endpoints are trusted by host: sns.<region>.amazonaws.com
    // always, plus these exact host[:port] entries; the CA file is added to the public roots for those fetches.
    BROKER_SNS_CERT_HOSTS: z.string().default(""),
    BROKER_SNS_CA_FILE: optionalString,
    BROKER_SNS_TOPIC_ARNS: z.string().default(""),
    BROKER_EVENTGRID_SECRET: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    BROKER_PUBSUB_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    NEXTAUTH_SECRET: optionalString,
    NEXTAUTH_URL: optionalString,
    // Console SSO (OIDC); enabled when all three are set. Users are matched to console users by email.
    BROKER_OIDC_ISSUER: optionalString.pipe(z.url().optional()),
    BROKER_OIDC_CLIENT_ID: optionalString,
    BROKER_OIDC_CLIENT_SECRET: optionalString,
    BROKER_OIDC_NAME: optionalString,
    // The vendor identities named in the grant instructions the console shows tenants.
    BROKER_VENDOR_AWS_PRINCIPAL: optionalString,
    BROKER_VENDOR_AZURE_APP_ID: optionalString,
    BROKER_VENDOR_GCP_SERVICE_ACCOUNT: optionalString,
  })
  .superRefine((env, ctx) => {
    if (env.GCP_KMS_ENDPOINT && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(env.GCP_KMS_ENDPOINT)) {
      ctx.addIssue({ code: "custom", path: ["GCP_KMS_ENDPOINT"], message: "must be host or host:port" });
    }
    const oidc = [env.BROKER_OIDC_ISSUER, env.BROKER_OIDC_CLIENT_ID, env.BROKER_OIDC_CLIENT_SECRET].filter(Boolean).length;
    if (oidc !== 0 && oidc !== 3) {
      ctx.addIssue({ code: "custom", path: ["BROKER_OIDC_ISSUER"], message: "set BROKER_OIDC_ISSUER, BROKER_OIDC_CLIENT_ID and BROKER_OIDC_CLIENT_SECRET together" });
    }
    if (env.GCP_KMS_INSECURE_TOKEN && !env.GCP_KMS_ENDPOINT) {
      ctx.addIssue({ code: "custom", path: ["GCP_KMS_INSECURE_TOKEN"], message: "only makes sense with GCP_KMS_ENDPOINT (emulator)" });
    }
  });

export type RawEnv = z.infer<typeof EnvSchema>;

export interface BrokerConfig extends RawEnv {
  /** Demo mode: nothing configured, so embedded PGlite, local emulators, seeded demo data, generated admin token. */
  demo: boolean;
  emulators: boolean;
  instanceId: string;
  BROKER_LOCKED_PROBE_INTERVAL_MS: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const CLOUD_VARS = ["AWS_ENDPOINT_URL_KMS", "AWS_ACCESS_KEY_ID", "AZURE_CLIENT_ID", "GCP_KMS_ENDPOINT"] as const;

export function loadConfig(source: Record<string, string | undefined> = process.env): BrokerConfig {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  const nothingConfigured = !env.DATABASE_URL && CLOUD_VARS.every((k) => !env[k]);
  const demo = env.BROKER_DEMO ? env.BROKER_DEMO === "on" : nothingConfigured;
  const emulators = env.BROKER_EMULATORS ? env.BROKER_EMULATORS === "on" : CLOUD_VARS.every((k) => !env[k]);
  if (!demo && env.NODE_ENV === "production" && !env.BROKER_ADMIN_TOKEN) {
    throw new ConfigError(
      "invalid configuration:\n  BROKER_ADMIN_TOKEN: required in production (set a random value of at least 24 characters, or BROKER_DEMO=on for a throwaway demo)",
    );
  }
  return {
    ...env,
    demo,
    emulators,
    instanceId: env.BROKER_INSTANCE_ID ?? `i-${process.pid}-${Date.now().toString(36)}`,
    BROKER_LOCKED_PROBE_INTERVAL_MS: env.BROKER_LOCKED_PROBE_INTERVAL_MS ?? env.BROKER_PROBE_INTERVAL_MS,
  };
}
