// The listener as a load balancer sees it, on a real broker process (server.ts):
// - an idle keep-alive connection is still open after Node's old 5 s default, so a balancer with
//   a 60 s idle timeout never reuses a connection the broker already closed (a 502);
// - SIGTERM drains: requests in flight finish with 200, a request that arrives on an open
//   connection meanwhile gets a JSON 503 with an error code and Retry-After, then the process exits 0.
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { childEnv, spawnBroker, type ChildBroker, type ChildEnv } from "../audit-api/child-broker";

let ce: ChildEnv;
let broker: ChildBroker;

beforeAll(async () => {
  ce = await childEnv({ BROKER_PROBE_INTERVAL_MS: "3600000" });
  broker = await spawnBroker(ce.env);
}, 120_000);
afterAll(async () => {
  await broker?.stop();
  await ce?.close();
});

function get(agent: http.Agent, url: string): Promise<{ status: number; reused: boolean; keepAlive: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, keepAlive: res.headers["keep-alive"] as string | undefined }));
    });
    req.on("error", reject);
  });
}

test("an idle keep-alive connection is still open and reused after 6 s (Node's default closed it after 5 s)", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(agent, `${broker.url}/api/health`);
    expect(first.status).toBe(200);
    expect(first.keepAlive).toBe("timeout=72");
    // One bounded wait, on purpose: what is tested is that the connection survives 6 s of idleness.
    await new Promise((r) => setTimeout(r, 6_000));
    const second = await get(agent, `${broker.url}/api/health`);
    expect(second.status).toBe(200);
    expect(second.reused).toBe(true);
  } finally {
    agent.destroy();
  }
}, 30_000);

test("SIGTERM with requests in flight: they finish with 200, a request arriving meanwhile gets 503 shutting_down with Retry-After, exit 0", async () => {
  const slug = "drain";
  const { keyArn } = await ce.aws.createKeyForVendor();
  const token = await broker.api.readyTenant(slug, "aws", keyArn);
  const enc = await broker.api.encrypt(slug, token, "drain me");
  expect(enc.status).toBe(200);
  // Lock and unlock drop the tenant's cached DEKs, so the next decrypt must ask the KMS, which
  // then answers after 1.5 s: the decrypts below are in the broker, waiting, when SIGTERM comes.
  expect((await broker.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason: "drop cached DEKs" })).status).toBe(200);
  expect((await broker.api.admin("POST", `/api/v1/tenants/${slug}/unlock`)).status).toBe(200);
  const decryptsBefore = ce.emulators.aws.calls.count("Decrypt");
  ce.emulators.aws.faults.set({ latencyMs: 1500, operations: ["Decrypt"] });

  // A connection with a request half sent: it is not idle, so the drain keeps it, and its request completes during the drain.
  const late = net.connect(Number(new URL(broker.url).port), "127.0.0.1");
  await new Promise<void>((r) => late.once("connect", () => r()));
  late.write(`GET /api/health HTTP/1.1\r\nHost: broker\r\n`);
  let lateAnswer = "";
  late.on("data", (d: Buffer) => (lateAnswer += d.toString()));
  const lateClosed = new Promise<void>((r) => late.once("close", () => r()));

  const inFlight = Array.from({ length: 4 }, async () => {
    const r = await broker.api.decrypt(slug, token, enc.body.ciphertext);
    return { status: r.status, at: Date.now() };
  });
  // Poll until the KMS has the decrypt: from then on the requests are in flight inside the broker.
  const deadline = Date.now() + 10_000;
  while (ce.emulators.aws.calls.count("Decrypt") === decryptsBefore) {
    if (Date.now() > deadline) throw new Error("the decrypts never reached the KMS");
    await new Promise((r) => setTimeout(r, 10));
  }
  const exited = new Promise<number | null>((r) => broker.proc.once("exit", (code) => r(code)));
  const termAt = Date.now();
  process.kill(-broker.proc.pid!, "SIGTERM");
  // The drain has begun once the listener refuses new connections (polled).
  for (;;) {
    const refused = await new Promise<boolean>((r) => {
      const probe = net.connect(Number(new URL(broker.url).port), "127.0.0.1");
      probe.once("connect", () => (probe.destroy(), r(false)));
      probe.once("error", () => r(true));
    });
    if (refused) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  late.write(`\r\n`);

  const results = await Promise.all(inFlight);
  await lateClosed;
  const code = await exited;
  ce.emulators.aws.faults.clear();
  console.log(`drain: in-flight answers ${results.map((r) => `${r.status} +${r.at - termAt} ms`).join(", ")}; late request: ${lateAnswer.split("\r\n")[0]}`);
  expect(results.map((r) => r.status), broker.output()).toEqual([200, 200, 200, 200]);
  // They really were in flight at the SIGTERM.
  expect(results.every((r) => r.at > termAt)).toBe(true);
  expect(lateAnswer, `late answer: ${JSON.stringify(lateAnswer)}\n${broker.output()}`).toMatch(/^HTTP\/1\.1 503/);
  expect(lateAnswer.toLowerCase()).toContain("retry-after: 1");
  expect(lateAnswer).toContain(`"code":"shutting_down"`);
  expect(code, broker.output()).toBe(0);
}, 60_000);
