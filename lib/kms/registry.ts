// Builds the KMS providers from server configuration. Endpoints come only from here,
// never from tenant input (SSRF): a tenant supplies a key reference, which each provider
// validates strictly before any network call.
//
// Only enabled providers exist (BROKER_PROVIDERS, default: those whose configuration is present),
// and each is constructed on first use: an AWS-only deployment needs no Azure credentials, and
// the GCP client never probes the metadata server unless a GCP key is used. A disabled provider
// answers every call with KmsError("invalid", providerCode "provider_disabled").
import { readFileSync } from "node:fs";
import type { BrokerConfig } from "../config/env";
import { AwsKmsProvider } from "./aws";
import { AzureKeyVaultProvider } from "./azure";
import { GcpKmsProvider } from "./gcp";
import { Pkcs11KmsProvider } from "./pkcs11/provider";
import { KmipKmsProvider, type KmipCredentialSource } from "./kmip";
import { KmsError, type KmsProvider, type KmsProviderName } from "./types";

export type KmsProviders = Record<KmsProviderName, KmsProvider>;

export const KMS_PROVIDER_NAMES: readonly KmsProviderName[] = ["aws", "azure", "gcp", "kmip", "pkcs11"];

/** What some providers need from the broker beyond configuration (the KMIP per-tenant credentials). */
export interface ProviderServices {
  kmipCredentials?: KmipCredentialSource;
}

type ProviderConfig = Pick<
  BrokerConfig,
  | "demo"
  | "emulators"
  | "BROKER_PROVIDERS"
  | "AWS_ENDPOINT_URL_KMS"
  | "AWS_ACCESS_KEY_ID"
  | "AWS_PROFILE"
  | "AWS_ROLE_ARN"
  | "AWS_WEB_IDENTITY_TOKEN_FILE"
  | "AWS_CONTAINER_CREDENTIALS_FULL_URI"
  | "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
  | "BROKER_AWS_PRINCIPAL_ARN"
  | "BROKER_VENDOR_AWS_PRINCIPAL"
  | "AZURE_CLIENT_ID"
  | "AZURE_TENANT_ID"
  | "AZURE_CLIENT_SECRET"
  | "GCP_KMS_ENDPOINT"
  | "GOOGLE_APPLICATION_CREDENTIALS"
  | "BROKER_VENDOR_GCP_SERVICE_ACCOUNT"
  | "BROKER_PKCS11_MODULE"
  | "BROKER_KMIP_ALLOWED_HOSTS"
>;

/** The providers this broker serves: BROKER_PROVIDERS, or every configured one (the three clouds with emulators / demo; KMIP when BROKER_KMIP_ALLOWED_HOSTS is set). */
export function enabledProviders(config: ProviderConfig): Set<KmsProviderName> {
  if (config.BROKER_PROVIDERS.length) {
    return new Set<KmsProviderName>(config.BROKER_PROVIDERS);
  }
  // KMIP has no emulator and PKCS#11 needs a module on this machine: each is on only where the vendor configured it, in every mode.
  const kmip = config.BROKER_KMIP_ALLOWED_HOSTS.length > 0;
  const on = new Set<KmsProviderName>();
  if (config.BROKER_PKCS11_MODULE) on.add("pkcs11");
  if (kmip) on.add("kmip");
  if (config.demo || config.emulators) return new Set<KmsProviderName>(["aws", "azure", "gcp", ...on]);
  const aws = [
    config.AWS_ENDPOINT_URL_KMS,
    config.AWS_ACCESS_KEY_ID,
    config.AWS_PROFILE,
    config.AWS_ROLE_ARN,
    config.AWS_WEB_IDENTITY_TOKEN_FILE,
    config.AWS_CONTAINER_CREDENTIALS_FULL_URI,
    config.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
    config.BROKER_AWS_PRINCIPAL_ARN,
    config.BROKER_VENDOR_AWS_PRINCIPAL,
  ];
  if (aws.some(Boolean)) on.add("aws");
  if (config.AZURE_CLIENT_ID && config.AZURE_TENANT_ID && config.AZURE_CLIENT_SECRET) on.add("azure");
  if (config.GCP_KMS_ENDPOINT || config.GOOGLE_APPLICATION_CREDENTIALS || config.BROKER_VENDOR_GCP_SERVICE_ACCOUNT) on.add("gcp");
  return on;
}

/** Stands in for a provider this broker does not serve. */
class DisabledProvider implements KmsProvider {
  constructor(readonly name: KmsProviderName) {}
  private refuse(): never {
    throw new KmsError("invalid", this.name, `the ${this.name} provider is not enabled on this broker (BROKER_PROVIDERS)`, { providerCode: "provider_disabled" });
  }
  validateKeyRef(): void {
    this.refuse();
  }
  canonicalKeyRef(): string {
    return this.refuse();
  }
  ownershipTags(): Promise<Record<string, string>> {
    return Promise.resolve().then(() => this.refuse());
  }
  wrap(): never {
    return this.refuse();
  }
  unwrap(): never {
    return this.refuse();
  }
  describe(): never {
    return this.refuse();
  }
  scheduledDeletion(): never {
    return this.refuse();
  }
}

export function isProviderDisabled(e: unknown): boolean {
  return e instanceof KmsError && e.detail.providerCode === "provider_disabled";
}

const noKmipCredentials: KmipCredentialSource = {
  credentialsFor: () => Promise.reject(new KmsError("invalid", "kmip", "this broker instance has no KMIP credential store", { providerCode: "no_credentials" })),
};

function buildProvider(name: KmsProviderName, config: BrokerConfig, services: ProviderServices): KmsProvider {
  const timeoutMs = config.BROKER_KMS_TIMEOUT_MS;
  switch (name) {
    case "aws":
      return new AwsKmsProvider({
        region: config.AWS_REGION,
        endpoint: config.AWS_ENDPOINT_URL_KMS,
        credentials:
          config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY
            ? { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY, sessionToken: config.AWS_SESSION_TOKEN }
            : undefined,
        timeoutMs,
        expectedPrincipalArn: config.BROKER_AWS_PRINCIPAL_ARN,
      });
    case "azure":
      return new AzureKeyVaultProvider({
        tenantId: config.AZURE_TENANT_ID,
        clientId: config.AZURE_CLIENT_ID,
        clientSecret: config.AZURE_CLIENT_SECRET,
        authorityHost: config.AZURE_AUTHORITY_HOST,
        allowedHostSuffixes: config.AZURE_KEYVAULT_ALLOWED_HOSTS,
        caPem: config.AZURE_KEYVAULT_CA_FILE ? readFileSync(config.AZURE_KEYVAULT_CA_FILE, "utf8") : undefined,
        timeoutMs,
      });
    case "gcp": {
      const [gcpHost, gcpPort] = (config.GCP_KMS_ENDPOINT ?? "").split(":");
      return new GcpKmsProvider({
        apiEndpoint: gcpHost || undefined,
        port: gcpPort ? Number(gcpPort) : undefined,
        insecureToken: config.GCP_KMS_INSECURE_TOKEN,
        timeoutMs,
      });
    }
    case "pkcs11":
      return new Pkcs11KmsProvider({
        modulePath: config.BROKER_PKCS11_MODULE ?? "",
        pinDir: config.BROKER_PKCS11_PIN_DIR ?? "",
        allowedTokens: config.BROKER_PKCS11_TOKENS,
        gcmLayout: config.BROKER_PKCS11_GCM_PARAMS,
        sessionsPerToken: config.BROKER_PKCS11_SESSIONS,
        pinCheckMs: config.BROKER_PKCS11_PIN_CHECK_MS ?? config.BROKER_PROBE_INTERVAL_MS,
        timeoutMs,
      });
    case "kmip":
      return new KmipKmsProvider({ allowedHosts: config.BROKER_KMIP_ALLOWED_HOSTS, credentials: services.kmipCredentials ?? noKmipCredentials, timeoutMs });
  }
}

export function createKmsProviders(config: BrokerConfig, services: ProviderServices = {}): KmsProviders {
  const enabled = enabledProviders(config);
  const built = new Map<KmsProviderName, KmsProvider>();
  const providers = {} as KmsProviders;
  for (const name of KMS_PROVIDER_NAMES) {
    Object.defineProperty(providers, name, {
      enumerable: true,
      get(): KmsProvider {
        let p = built.get(name);
        if (!p) {
          p = enabled.has(name) ? buildProvider(name, config, services) : new DisabledProvider(name);
          built.set(name, p);
        }
        return p;
      },
    });
  }
  return providers;
}

export function providerFor(providers: KmsProviders, name: string): KmsProvider {
  if (name === "aws" || name === "azure" || name === "gcp" || name === "kmip" || name === "pkcs11") return providers[name];
  throw new KmsError("invalid", "aws", `unknown provider "${name}" (expected aws, azure, gcp, kmip or pkcs11)`);
}
