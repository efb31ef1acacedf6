// Emulator ports: overrides from CMEK_EMULATOR_*_PORT and --*-port flags, a busy port failing the
// start with one line that names the port and the variable to set, and `npm run emulators`
// (emulators/main.ts) honouring both end to end.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
  EmulatorConfigError,
  emulatorPortOverrides,
  emulatorPortsFromArgs,
  emulatorPortsFromEnv,
  PortInUseError,
  startEmulators,
} from "../../emulators/launch";

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "emu-launch-"));
  dirs.push(d);
  return d;
};

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Holds a loopback port until released. */
async function occupy(port = 0): Promise<{ port: number; release(): Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve());
  });
  return { port: (s.address() as net.AddressInfo).port, release: () => new Promise((r) => s.close(() => r())) };
}

async function freePort(): Promise<number> {
  const h = await occupy();
  await h.release();
  return h.port;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function runScript(script: string, env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: path.resolve(__dirname, "../.."),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const out = { stdout: "", stderr: "", code: null as number | null };
  child.stdout.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out.stderr += d.toString()));
  child.on("exit", (code) => (out.code = code));
  return { child, out };
}

describe("port overrides", () => {
  test("variables are read per emulator; empty ones keep the default", () => {
    expect(emulatorPortsFromEnv({ CMEK_EMULATOR_AWS_PORT: "4609", CMEK_EMULATOR_GCP_CONTROL_PORT: "0", CMEK_EMULATOR_AZURE_PORT: "" })).toEqual({
      aws: 4609,
      gcpControl: 0,
    });
    expect(emulatorPortsFromEnv({})).toEqual({});
  });

  test("bad values are all reported, each with its variable", () => {
    let err: unknown;
    try {
      emulatorPortsFromEnv({ CMEK_EMULATOR_AWS_PORT: "http", CMEK_EMULATOR_GCP_PORT: "70000" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EmulatorConfigError);
    expect((err as Error).message).toContain('CMEK_EMULATOR_AWS_PORT="http"');
    expect((err as Error).message).toContain('CMEK_EMULATOR_GCP_PORT="70000"');
  });

  test("flags take both forms and win over variables", () => {
    expect(emulatorPortsFromArgs(["--aws-port=4610", "--gcp-port", "4611", "--other"])).toEqual({ aws: 4610, gcp: 4611 });
    expect(emulatorPortOverrides(["--aws-port=4612"], { CMEK_EMULATOR_AWS_PORT: "4609", CMEK_EMULATOR_AZURE_PORT: "4613" })).toEqual({
      aws: 4612,
      azure: 4613,
    });
    expect(() => emulatorPortsFromArgs(["--azure-port"])).toThrow(/--azure-port/);
  });
});

describe("busy ports", () => {
  test.each([
    ["aws", "AWS KMS emulator", "CMEK_EMULATOR_AWS_PORT"],
    ["azure", "Azure Key Vault emulator", "CMEK_EMULATOR_AZURE_PORT"],
    ["gcp", "Google Cloud KMS emulator (gRPC)", "CMEK_EMULATOR_GCP_PORT"],
    ["gcpControl", "Google Cloud KMS emulator (control)", "CMEK_EMULATOR_GCP_CONTROL_PORT"],
  ] as const)("a taken %s port fails the start naming the port and %s's variable, and frees the others", async (which, label, envVar) => {
    const busy = await occupy();
    const ports = { aws: await freePort(), azure: await freePort(), gcp: await freePort(), gcpControl: await freePort(), [which]: busy.port };
    try {
      const err = await startEmulators({ dataDir: tempDir(), ports }).then(
        (set) => set.close().then(() => null),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toBe(`${label}: port ${busy.port} on 127.0.0.1 is already in use; set ${envVar} to another port (0 picks a free one)`);
      // Emulators started before the failing one were closed again: their ports are free.
      for (const [k, p] of Object.entries(ports)) {
        if (k === which) continue;
        const h = await occupy(p);
        await h.release();
      }
    } finally {
      await busy.release();
    }
  });

  test("two emulator sets on free ports run side by side", async () => {
    const a = await startEmulators({ dataDir: tempDir(), ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
    const b = await startEmulators({ dataDir: tempDir(), ports: { aws: 0, azure: 0, gcp: 0, gcpControl: 0 } });
    try {
      expect(a.aws.port).not.toBe(b.aws.port);
      expect(a.brokerEnv.AWS_ENDPOINT_URL_KMS).not.toBe(b.brokerEnv.AWS_ENDPOINT_URL_KMS);
      for (const s of [a, b]) expect((await fetch(`${s.aws.url}/_emulator/calls`)).status).toBe(200);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("npm run emulators (emulators/main.ts)", () => {
  test("serves on the ports from variables and flags; a second run on the same port exits 1 with one line", async () => {
    const [aws, azure, gcp, gcpControl] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const first = runScript(
      "emulators/main.ts",
     
      { DATA_DIR: tempDir(), CMEK_EMULATOR_AWS_PORT: String(aws), CMEK_EMULATOR_AZURE_PORT: String(azure), CMEK_EMULATOR_GCP_CONTROL_PORT: "1" },
      ["--gcp-port", String(gcp), `--gcp-control-port=${gcpControl}`],
    );
    await until(() => first.out.stdout.includes("export GCP_KMS_ENDPOINT") || first.out.code !== null, 30_000, "the first emulators to start");
    expect(first.out.stdout).toContain(`AWS KMS emulator          http://127.0.0.1:${aws}`);
    expect(first.out.stdout).toContain(`https://localhost:${azure}`);
    expect(first.out.stdout).toContain(`127.0.0.1:${gcp} gRPC (control: http://127.0.0.1:${gcpControl}/_emulator/)`);
    expect((await fetch(`http://127.0.0.1:${aws}/_emulator/faults`)).status).toBe(200);

    const second = runScript("emulators/main.ts", { DATA_DIR: tempDir(), CMEK_EMULATOR_AWS_PORT: String(aws) });
    await until(() => second.out.code !== null, 30_000, "the second emulators to exit");
    expect(second.out.code).toBe(1);
    expect(second.out.stderr.trim()).toBe(
      `AWS KMS emulator: port ${aws} on 127.0.0.1 is already in use; set CMEK_EMULATOR_AWS_PORT to another port (0 picks a free one)`,
    );

    first.child.kill("SIGTERM");
    await until(() => first.out.code !== null, 10_000, "the first emulators to stop");
  }, 90_000);
});

describe("npm start (scripts/start.ts)", () => {
  test(
    "the demo refuses a taken emulator port with the same one-line error and exit code 1",
    async () => {
      const busy = await occupy();
      try {
        const demo = runScript("scripts/start.ts", { DATA_DIR: tempDir(), BROKER_CONSOLE: "off", PORT: "0", CMEK_EMULATOR_AZURE_PORT: String(busy.port) });
        await until(() => demo.out.code !== null, 90_000, "the demo to exit");
        expect(demo.out.code).toBe(1);
        expect(demo.out.stderr.trim()).toBe(
          `Azure Key Vault emulator: port ${busy.port} on 127.0.0.1 is already in use; set CMEK_EMULATOR_AZURE_PORT to another port (0 picks a free one)`,
        );
      } finally {
        await busy.release();
      }
    },
    120_000,
  );
});
