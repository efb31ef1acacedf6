// The wizard's instructions for a key on the tenant's own HSM (PKCS#11): there is no grant to
// give; the tenant makes an AES-256 key on its token, hands the vendor the token's user PIN out
// of band (never through the console), and proves the token is its own with a data object.
// Commands use OpenSC's pkcs11-tool, which works with any vendor's module.
import { OWNERSHIP_TAG } from "@/lib/kms/ownership-tag";
import type { ConnectInfo } from "./types";

export interface Pkcs11GrantSnippet {
  title: string;
  description: string;
  code: string;
  testId: string;
}

function attr(uri: string, name: string): string | null {
  const m = new RegExp(`[:;]${name}=([^;?]*)`, "i").exec(uri);
  if (!m?.[1]) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

const quote = (s: string) => (/^[A-Za-z0-9._-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

export function pkcs11Grants(info: ConnectInfo, keyUri: string): Pkcs11GrantSnippet[] {
  const token = attr(keyUri, "token") ?? "<token label>";
  const key = attr(keyUri, "object") ?? "<key label>";
  const tool = `pkcs11-tool --module <your HSM's PKCS#11 module> --token-label ${quote(token)} --login`;
  return [
    {
      title: "Create the key on your token",
      description:
        "An AES-256 secret key that never leaves the HSM (sensitive, not extractable), allowed to encrypt and decrypt. Name it in the key reference by its label (object=) or id (id=).",
      code: `${tool} \\\n  --keygen --key-type AES:32 --label ${quote(key)} --id 01 --sensitive`,
      testId: "grant-pkcs11-keygen",
    },
    {
      title: "Prove the token is yours",
      description: `The broker connects a key only when its token holds a data object labelled ${OWNERSHIP_TAG} whose value is your tenant id; only a holder of the token's PIN can create it.`,
      code: `printf '%s' ${info.tenantId} > tenant-id.txt\n${tool} \\\n  --write-object tenant-id.txt --type data --label ${OWNERSHIP_TAG} --private`,
      testId: "grant-pkcs11-ownership",
    },
    {
      title: "Give the vendor the token's user PIN",
      description:
        "Send the PIN through your vendor's secure channel, never through this console: the vendor's operators store it as the token's PIN file on the broker (see the README, PKCS#11). Changing the PIN later is a revocation: the broker locks your data within one probe interval.",
      code: `token label: ${token}\nkey reference: pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(key)}`,
      testId: "grant-pkcs11-pin",
    },
    {
      title: "To revoke",
      description: "Any of these locks your tenant within one probe interval: destroy the key, clear its decrypt permission, or change the token's user PIN.",
      code: [`${tool} --delete-object --type secrkey --label ${quote(key)}`, `${tool} --change-pin`].join("\n"),
      testId: "grant-pkcs11-revoke",
    },
  ];
}
