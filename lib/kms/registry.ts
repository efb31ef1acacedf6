// Builds the three providers from server configuration. Endpoints come only from here,
// never from tenant input (SSRF): a tenant supplies a key reference, which each provider
// validates strictly before any network call.
import { readFileSync } from "node:fs";
import type { BrokerConfig } from "../config/env";
import { AwsKmsProvider } from "./aws";
import { AzureKeyVaultProvider } from "./azure";
import { GcpKmsProvider } from "./gcp";
import { KmsError, type KmsProvider, type KmsProviderName } from "./types";

export type KmsProviders = Record<KmsProviderName, KmsProvider>;

export function createKmsProviders(config: BrokerConfig): KmsProviders {
  const timeoutMs = config.BROKER_KMS_TIMEOUT_MS;
  const aws = new AwsKmsProvider({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL_KMS,
    credentials:
      config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY, sessionToken: config.AWS_SESSION_TOKEN }
        : undefined,
    timeoutMs,
  });
  const azure = new AzureKeyVaultProvider({
    tenantId: config.AZURE_TENANT_ID,
    clientId: config.AZURE_CLIENT_ID,
    clientSecret: config.AZURE_CLIENT_SECRET,
    authorityHost: config.AZURE_AUTHORITY_HOST,
    allowedHostSuffixes: config.AZURE_KEYVAULT_ALLOWED_HOSTS,
    caPem: config.AZURE_KEYVAULT_CA_FILE ? readFileSync(config.AZURE_KEYVAULT_CA_FILE, "utf8") : undefined,
    timeoutMs,
  });
  const [gcpHost, gcpPort] = (config.GCP_KMS_ENDPOINT ?? "").split(":");
  const gcp = new GcpKmsProvider({
    apiEndpoint: gcpHost || undefined,
    port: gcpPort ? Number(gcpPort) : undefined,
    insecureToken: config.GCP_KMS_INSECURE_TOKEN,
    timeoutMs,
  });
  return { aws, azure, gcp };
}

export function providerFor(providers: KmsProviders, name: string): KmsProvider {
  if (name === "aws" || name === "azure" || name === "gcp") return providers[name];
  throw new KmsError("invalid", "aws", `unknown provider "${name}" (expected aws, azure or gcp)`);
}
