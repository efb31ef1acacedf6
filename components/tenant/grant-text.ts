// The exact grants a tenant gives the vendor, per cloud. Pure functions, so the wizard shows
// them as the user types and tests can check them.
import { OWNERSHIP_TAG, ownershipTagValue } from "@/lib/kms/ownership-tag";
import { pkcs11Grants } from "./grant-text-pkcs11";
import type { ConnectInfo } from "./types";

export type { ConnectInfo };

export type Provider = "aws" | "azure" | "gcp" | "kmip" | "pkcs11";

export interface GrantSnippet {
  title: string;
  description: string;
  code: string;
  testId: string;
}

const placeholder = (v: string | null, name: string) => v ?? `<${name}: not configured on this broker>`;

/** The key policy statement (and the create-grant alternative) binding the vendor to this tenant's encryption context. */
export function awsGrants(info: ConnectInfo, keyArn: string): GrantSnippet[] {
  const principal = placeholder(info.aws.principal, "vendor AWS principal");
  const statement = {
    Sid: `AllowCmekBroker-${info.slug}`,
    Effect: "Allow",
    Principal: { AWS: principal },
    // ReEncrypt*: re-wrapping after a rotation or key switch then happens inside KMS (no plaintext DEK on the broker).
    Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
    Resource: "*",
    Condition: { StringEquals: { "kms:EncryptionContext:tenant": info.tenantId } },
  };
  // DescribeKey carries no encryption context, so it needs a statement without the condition.
  const metadata = { Sid: `AllowCmekBrokerDescribe-${info.slug}`, Effect: "Allow", Principal: { AWS: principal }, Action: ["kms:DescribeKey"], Resource: "*" };
  const key = keyArn || "<your key ARN>";
  return [
    {
      title: "Key policy statement",
      description: "Add this statement to the key policy's Statement array. The condition limits the vendor to data of your tenant (the broker always sends your tenant id as encryption context) and is the proof that the key is yours: before connecting, the broker checks that the key refuses it another tenant's id.",
      code: JSON.stringify(statement, null, 2),
      testId: "grant-aws-policy",
    },
    {
      title: "Key metadata statement (recommended)",
      description: "Lets the broker read the key's state: it sees a rotation (CurrentKeyMaterialId) at the next probe and shows the date a scheduled deletion becomes final. Without it, rotations are seen only through EventBridge events.",
      code: JSON.stringify(metadata, null, 2),
      testId: "grant-aws-metadata",
    },
    {
      title: "Or: a grant with the AWS CLI",
      description: "A grant gives the same permission without editing the key policy; revoke it with aws kms revoke-grant.",
      code: [
        "aws kms create-grant \\",
        `  --key-id ${key} \\`,
        `  --grantee-principal ${principal} \\`,
        "  --operations Encrypt Decrypt GenerateDataKey ReEncryptFrom ReEncryptTo \\",
        `  --constraints EncryptionContextSubset={tenant=${info.tenantId}} \\`,
        "  --name cmek-broker",
      ].join("\n"),
      testId: "grant-aws-cli",
    },
  ];
}

/** The Azure role assignment on the key's scope. */
export function azureGrants(info: ConnectInfo, keyUri: string): GrantSnippet[] {
  const appId = placeholder(info.azure.appId, "vendor application id");
  let vault = "<vault-name>";
  let keyName = "<key-name>";
  try {
    const u = new URL(keyUri);
    vault = u.hostname.split(".")[0] ?? vault;
    keyName = u.pathname.split("/")[2] || keyName;
  } catch {
    /* keep placeholders until the URI parses */
  }
  const scope = `$(az keyvault show --name ${vault} --query id -o tsv)/keys/${keyName}`;
  const tag = ownershipTagValue(info.tenantId);
  return [
    {
      title: "Tag the key as yours",
      description: `The broker connects a key only when it carries the tag ${OWNERSHIP_TAG}=${tag}, which only the key's owner can set.`,
      code: [`az keyvault key set-attributes --vault-name ${vault} --name ${keyName} \\`, `  --tags ${OWNERSHIP_TAG}=${tag}`].join("\n"),
      testId: "grant-azure-tag",
    },
    {
      title: "Role assignment (Azure RBAC)",
      description: "Assign the vendor's application the crypto service role on this key only.",
      code: [
        "az role assignment create \\",
        '  --role "Key Vault Crypto Service Encryption User" \\',
        `  --assignee ${appId} \\`,
        `  --scope "${scope}"`,
      ].join("\n"),
      testId: "grant-azure-cli",
    },
    {
      title: "Or: an access policy (vaults without RBAC)",
      description: "Older vaults use access policies instead of role assignments.",
      code: [`az keyvault set-policy --name ${vault} \\`, `  --spn ${appId} \\`, "  --key-permissions get wrapKey unwrapKey"].join("\n"),
      testId: "grant-azure-policy",
    },
  ];
}

/** The IAM binding on the CryptoKey. */
export function gcpGrants(info: ConnectInfo, keyName: string): GrantSnippet[] {
  const sa = placeholder(info.gcp.serviceAccount, "vendor service account");
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/keyRings\/([^/]+)\/cryptoKeys\/([^/]+)$/.exec(keyName);
  const [project, location, ring, key] = m ? [m[1], m[2], m[3], m[4]] : ["<project>", "<location>", "<key-ring>", "<key>"];
  const label = ownershipTagValue(info.tenantId);
  return [
    {
      title: "Label the key as yours",
      description: `The broker connects a key only when it carries the label ${OWNERSHIP_TAG}=${label}, which only the key's owner can set; the broker reads it with cloudkms.cryptoKeys.get (e.g. roles/cloudkms.viewer on the key).`,
      code: [
        `gcloud kms keys update ${key} \\`,
        `  --project ${project} --location ${location} --keyring ${ring} \\`,
        `  --update-labels ${OWNERSHIP_TAG}=${label}`,
      ].join("\n"),
      testId: "grant-gcp-label",
    },
    {
      title: "IAM policy binding",
      description: "Let the vendor's service account encrypt and decrypt with this key only.",
      code: [
        `gcloud kms keys add-iam-policy-binding ${key} \\`,
        `  --project ${project} --location ${location} --keyring ${ring} \\`,
        `  --member serviceAccount:${sa} \\`,
        "  --role roles/cloudkms.cryptoKeyEncrypterDecrypter",
      ].join("\n"),
      testId: "grant-gcp-cli",
    },
  ];
}

/** The broker's per-tenant client certificate, to register in the tenant's KMIP server. */
export function kmipGrants(info: ConnectInfo): GrantSnippet[] {
  const cert = info.kmip.clientCertificate;
  if (!cert) {
    return [{ title: "KMIP is not enabled on this broker", description: "The vendor enables it with BROKER_KMIP_ALLOWED_HOSTS.", code: "-", testId: "grant-kmip-disabled" }];
  }
  return [
    {
      title: "Register the broker's client certificate",
      description: `Add this certificate (CN ${cert.commonName}, valid until ${cert.notAfter.slice(0, 10)}) as a trusted client of your KMIP server, and give that client Encrypt and Decrypt on an AES-256 key. Only this tenant's connections use it.`,
      code: cert.certificatePem.trim(),
      testId: "grant-kmip-certificate",
    },
    {
      title: "Certificate fingerprint (SHA-256)",
      description: "Compare it with what your KMIP server shows after the import.",
      code: cert.fingerprintSha256,
      testId: "grant-kmip-fingerprint",
    },
    {
      title: "Allowed KMIP servers",
      description: "The key reference must name one of these servers (set by the vendor).",
      code: info.kmip.allowedHosts.join("\n") || "(none)",
      testId: "grant-kmip-hosts",
    },
  ];
}

export function grantsFor(provider: Provider, info: ConnectInfo, keyId: string): GrantSnippet[] {
  if (provider === "pkcs11") return pkcs11Grants(info, keyId);
  if (provider === "kmip") return kmipGrants(info);
  return provider === "aws" ? awsGrants(info, keyId) : provider === "azure" ? azureGrants(info, keyId) : gcpGrants(info, keyId);
}

export const KEY_PLACEHOLDER: Record<Provider, string> = {
  aws: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  azure: "https://my-vault.vault.azure.net/keys/my-key",
  gcp: "projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key",
  pkcs11: "pkcs11:token=my-token;object=my-key",
  kmip: "kmip://kms.example.com:5696/6f1c9a2e-1b7d-4c2a-9a55-0c3e2f1d0b7a",
};

export const KEY_LABEL: Record<Provider, string> = {
  aws: "Key ARN (or alias ARN)",
  azure: "Key URI (versionless)",
  gcp: "CryptoKey resource name",
  pkcs11: "PKCS#11 URI (RFC 7512): token and key label or id",
  kmip: "KMIP server and the key's Unique Identifier",
};
