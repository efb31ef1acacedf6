// TLS material for the Azure emulator. The Key Vault SDK and @azure/identity both refuse
// plain-HTTP authorities (identity throws in the constructor), so the emulator must speak
// HTTPS; a private CA lets other processes trust it through NODE_EXTRA_CA_CERTS or `ca`.

import { createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface EmulatorTls {
  caPem: string;
  caFile: string;
  serverKeyPem: string;
  serverCertPem: string;
}

const DAY_MS = 86_400_000;

function readIfPresent(path: string): string | null {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

function stillValid(certPem: string, marginDays: number): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return Date.parse(cert.validTo) - Date.now() > marginDays * DAY_MS;
  } catch {
    return false;
  }
}

/**
 * CA cert + key and the server key are kept in `dataDir` and reused across restarts, so a
 * CA file another process already trusts stays valid. The server leaf is re-issued on every
 * start because nothing outside this process pins it.
 */
export async function loadOrCreateTls(dataDir: string): Promise<EmulatorTls> {
  mkdirSync(dataDir, { recursive: true });
  const caFile = join(dataDir, "azure-emulator-ca.pem");
  const caKeyFile = join(dataDir, "azure-emulator-ca-key.pem");
  const serverKeyFile = join(dataDir, "azure-emulator-server-key.pem");

  let caPem = readIfPresent(caFile);
  let caKeyPem = readIfPresent(caKeyFile);
  if (!caPem || !caKeyPem || !stillValid(caPem, 30)) {
    const ca = await generate([{ name: "commonName", value: "cmek-broker Azure Key Vault emulator CA" }], {
      keyType: "ec",
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + 3650 * DAY_MS),
      extensions: [
        { name: "basicConstraints", cA: true, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    caPem = ca.cert;
    caKeyPem = ca.private;
    writeFileSync(caKeyFile, caKeyPem, { mode: 0o600 });
    writeFileSync(caFile, caPem);
  }

  let serverKeyPem = readIfPresent(serverKeyFile);
  const keyPair = serverKeyPem
    ? {
        privateKey: serverKeyPem,
        publicKey: createPublicKey(serverKeyPem).export({ type: "spki", format: "pem" }).toString(),
      }
    : undefined;
  const leaf = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 365 * DAY_MS),
    ...(keyPair ? { keyPair } : {}),
    ca: { key: caKeyPem, cert: caPem },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  if (!serverKeyPem) {
    serverKeyPem = leaf.private;
    writeFileSync(serverKeyFile, serverKeyPem, { mode: 0o600 });
  }
  return { caPem, caFile, serverKeyPem, serverCertPem: leaf.cert };
}
