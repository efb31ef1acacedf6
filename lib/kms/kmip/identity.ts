// The broker's KMIP client identity for one tenant: an ECDSA P-256 key and a self-signed
// certificate (EKU clientAuth, which PyKMIP and most KMIP servers require) that the tenant
// registers in its KMIP server. Node has no X.509 builder, hence @peculiar/x509 over WebCrypto.
import { createHash, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface KmipClientIdentity {
  commonName: string;
  certificatePem: string;
  privateKeyPem: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (what servers display). */
  fingerprintSha256: string;
  notAfter: Date;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export async function generateKmipClientIdentity(commonName: string, validDays = 825): Promise<KmipClientIdentity> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + validDays * 86_400_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${commonName.replace(/[,+="\\<>;#]/g, "")}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
  pkcs8.fill(0);
  const certificatePem = cert.toString("pem") + "\n";
  return { commonName, certificatePem, privateKeyPem, fingerprintSha256: certificateFingerprint(certificatePem), notAfter };
}

export function certificateFingerprint(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return createHash("sha256").update(der).digest("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}
