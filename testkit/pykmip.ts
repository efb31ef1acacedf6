// Starts PyKMIP's server (Debian python3-pykmip 0.10.0) as the third-party KMIP peer of the
// tests, the e2e stack and the benchmark: a throwaway CA, a server certificate for 127.0.0.1,
// a free port, a sqlite file and a policy directory, all in a temporary directory.
// Facts this relies on: /work/shared/ONPREM-NOTES.md (client certificates need EKU clientAuth;
// ownership is the client certificate's CN; policies in policy_path are live-reloaded).
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const PYKMIP_SERVER = "/usr/bin/pykmip-server";
export const pykmipInstalled = (): boolean => existsSync(PYKMIP_SERVER);

export interface PyKmipServer {
  host: string;
  port: number;
  dir: string;
  /** The CA that signed the server certificate (what the tenant gives the broker). */
  caPem: string;
  /** A client certificate from the server's CA, with the given CN (the tenant's own admin tools). */
  clientCert(cn: string): { certPem: string; keyPem: string };
  /** A client certificate from a CA the server does not trust. */
  foreignClientCert(cn: string): { certPem: string; keyPem: string };
  /** Writes (or rewrites) an operation policy file; the server reloads it within about a second. */
  writePolicy(name: string, ops: Record<string, "ALLOW_ALL" | "ALLOW_OWNER" | "DISALLOW_ALL">): void;
  /** Replaces the extra trust anchors (registered client certificates); takes effect at the next start. */
  setTrustedClientCerts(pems: string[]): void;
  /** Starts the server (again) on the same port and files. */
  start(): Promise<void>;
  /** SIGKILL, not waiting for PyKMIP's ~10 s shutdown. */
  kill(): void;
  /** Kill and remove the directory. */
  dispose(): void;
  log(): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function leaf(dir: string, name: string, cn: string, ext: string, caName = "ca"): { certPem: string; keyPem: string } {
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-days", "30", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
  return { certPem: readFileSync(path.join(dir, `${name}.crt`), "utf8"), keyPem: readFileSync(path.join(dir, `${name}.key`), "utf8") };
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface TestPki {
  dir: string;
  caPem: string;
  server: { certPem: string; keyPem: string };
  clientCert(cn: string): { certPem: string; keyPem: string };
  foreignClientCert(cn: string): { certPem: string; keyPem: string };
}

/** A CA, a server certificate for 127.0.0.1/localhost, and client certificates on demand (openssl CLI). */
export function createTestPki(dir = mkdtempSync(path.join(os.tmpdir(), "kmip-pki-"))): TestPki {
  makeCa(dir, "ca");
  makeCa(dir, "foreign-ca");
  const server = leaf(dir, "server", "localhost", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
  let counter = 0;
  const client = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
  return {
    dir,
    caPem: readFileSync(path.join(dir, "ca.crt"), "utf8"),
    server,
    clientCert: (cn) => leaf(dir, `client-${++counter}`, cn, client),
    foreignClientCert: (cn) => leaf(dir, `foreign-${++counter}`, cn, client, "foreign-ca"),
  };
}

/**
 * Creates the directory and certificates and starts the server. `trustedClientCerts` are extra
 * trust anchors in the server's CA bundle: the broker's self-signed per-tenant certificates
 * (PyKMIP reads the bundle at start, so "registering" one means restarting it).
 */
export async function startPyKmip(opts: { trustedClientCerts?: string[]; startTimeoutMs?: number } = {}): Promise<PyKmipServer> {
  if (!pykmipInstalled()) throw new Error(`${PYKMIP_SERVER} is missing: apt-get install python3-pykmip`);
  const pki = createTestPki(mkdtempSync(path.join(os.tmpdir(), "pykmip-")));
  const { dir, caPem } = pki;
  writeFileSync(path.join(dir, "trust.pem"), [caPem, ...(opts.trustedClientCerts ?? [])].join("\n"));
  const policyDir = path.join(dir, "policies");
  execFileSync("mkdir", ["-p", policyDir]);
  const port = await freePort();
  writeFileSync(
    path.join(dir, "server.conf"),
    [
      "[server]",
      "hostname=127.0.0.1",
      `port=${port}`,
      `certificate_path=${dir}/server.crt`,
      `key_path=${dir}/server.key`,
      `ca_path=${dir}/trust.pem`,
      "auth_suite=TLS1.2",
      `policy_path=${policyDir}`,
      "enable_tls_client_auth=True",
      "logging_level=INFO",
      `database_path=${dir}/pykmip.db`,
      "",
    ].join("\n"),
  );
  let child: ChildProcess | null = null;
  const server: PyKmipServer = {
    host: "127.0.0.1",
    port,
    dir,
    caPem,
    clientCert: (cn) => pki.clientCert(cn),
    foreignClientCert: (cn) => pki.foreignClientCert(cn),
    setTrustedClientCerts(pems) {
      writeFileSync(path.join(dir, "trust.pem"), [caPem, ...pems].join("\n"));
    },
    writePolicy(name, ops) {
      writeFileSync(path.join(policyDir, `${name}.json`), JSON.stringify({ [name]: { preset: { SYMMETRIC_KEY: ops } } }));
    },
    async start() {
      // A killed predecessor may still hold the port for a moment.
      for (const until = Date.now() + 10_000; (await accepting(port)) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      // Its own process group: PyKMIP forks a policy-monitor process that outlives a kill of the parent.
      child = spawn(PYKMIP_SERVER, ["-f", path.join(dir, "server.conf"), "-l", path.join(dir, "server.log")], { stdio: "ignore", detached: true });
      const started = Date.now();
      while (!(await accepting(port))) {
        if (child.exitCode !== null) throw new Error(`pykmip-server exited with ${child.exitCode}: ${server.log().slice(-2000)}`);
        if (Date.now() - started > (opts.startTimeoutMs ?? 60_000)) throw new Error("pykmip-server did not start listening");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill() {
      if (child?.pid && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // The group is already gone (the server exited on its own).
        }
      }
      child = null;
    },
    dispose() {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => (existsSync(path.join(dir, "server.log")) ? readFileSync(path.join(dir, "server.log"), "utf8") : ""),
  };
  // Detached, so it would outlive this process: killed with it whatever way it ends.
  process.once("exit", () => server.kill());
  try {
    await server.start();
  } catch (e) {
    server.dispose();
    throw e;
  }
  return server;
}
