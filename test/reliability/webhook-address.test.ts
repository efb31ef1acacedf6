// The webhook address guard. A tenant picks the URL, so the broker must never POST into its own
// network: not to literal non-public addresses in any spelling, not to local names, and not to a
// name that RESOLVES to a non-public address when the delivery connects (DNS rebinding: a name
// that looked public when the subscription was made). A refused delivery is logged without status
// or latency, so the delivery log cannot serve as a port scanner.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isNonGlobalAddress } from "@/lib/audit/webhook-address";
import { WebhookDispatcher } from "@/lib/audit/webhook-dispatcher";
import { listWebhookDeliveries, validateWebhookUrl } from "@/lib/audit/webhooks";
import { AuditWriter } from "@/lib/audit/writer";
import { createTenant, createTestDb, sampleEntry, type TestDb } from "../audit/helpers";

const REFUSED_URLS = [
  "http://localhost./x",
  "http://metadata.google.internal./computeMetadata/v1/",
  "http://metadata/computeMetadata/v1/",
  "http://[::127.0.0.1]/x",
  "http://[::ffff:127.0.0.1]/x",
  "http://[::ffff:a9fe:a9fe]/latest",
  "http://[64:ff9b::a9fe:a9fe]/latest",
  "http://[64:ff9b:1::a00:1]/x",
  "http://[2002:7f00:1::]/x",
  "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
  "http://[fd00::1]/x",
  "http://[fe80::1]/x",
  "http://[ff02::1]/x",
  "http://[::]/x",
  "http://198.18.0.1/x",
  "http://198.19.255.255/x",
  "http://100.64.0.1/x",
  "http://224.0.0.1/x",
  "http://239.255.255.250/x",
  "http://255.255.255.255/x",
  "http://240.0.0.1/x",
  "http://0.0.0.0/x",
  "http://0x7f.1/x",
  "http://2130706433/x",
  "http://192.0.0.170/x",
  "http://192.168.1.1/x",
  "http://172.31.0.1/x",
  "http://10.1.2.3/x",
  "http://169.254.169.254/latest",
  "http://printer.local/x",
  "http://router.home.arpa/x",
  "http://foo.localhost/x",
];

const ACCEPTED_URLS = ["https://hooks.example.com/x", "http://8.8.8.8/x", "http://[2606:4700:4700::1111]/x", "http://[64:ff9b::808:808]/x", "http://[::ffff:8.8.8.8]/x", "http://100.128.0.1/x", "http://198.20.0.1/x"];

describe("webhook URL check at creation", () => {
  it.each(REFUSED_URLS)("refuses %s", (url) => {
    expect(() => validateWebhookUrl(url)).toThrow(/private or loopback/);
  });
  it.each(ACCEPTED_URLS)("accepts %s", (url) => {
    expect(validateWebhookUrl(url).protocol).toMatch(/^https?:$/);
  });
  it("the demo switch still allows private targets", () => {
    expect(validateWebhookUrl("http://127.0.0.1:9/x", { allowPrivate: true }).port).toBe("9");
  });
  it("classifies resolved addresses: special-purpose ranges of both families are non-global", () => {
    for (const a of ["127.0.0.1", "10.0.0.1", "100.127.255.255", "198.18.0.1", "203.0.113.9", "192.0.2.1", "224.0.0.251", "255.255.255.255", "::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "fc00::1", "fe80::1%eth0", "ff05::2", "2001:db8::1", "3fff::1", "not-an-address"]) {
      expect(isNonGlobalAddress(a), a).toBe(true);
    }
    for (const a of ["1.1.1.1", "8.8.4.4", "2606:4700:4700::1111", "2a00:1450:4001::200e", "64:ff9b::101:101", "::ffff:1.1.1.1"]) {
      expect(isNonGlobalAddress(a), a).toBe(false);
    }
  });
});

describe("webhook delivery checks the address it connects to", () => {
  let t: TestDb;
  let receiver: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    t = await createTestDb();
    receiver = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    port = (receiver.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => receiver?.close(r));
    await t?.drop();
  });

  it("a subscription whose name resolves to loopback (rebinding after creation) is never connected to; the log shows no status or latency", async () => {
    const tenant = await createTenant(t.db);
    const writer = new AuditWriter(t.db);
    // As if the name had resolved to a public address when the subscription was made: stored
    // directly. Two targets: a name from /etc/hosts resolving to 127.0.0.1, and a literal.
    const subs: string[] = [];
    for (const url of [`http://vm:${port}/hook`, `http://127.0.0.1:${port}/hook`]) {
      const id = randomUUID();
      await t.db.query(`INSERT INTO webhook_subscription (id, tenant_id, url, secret, cursor_seq) VALUES ($1, $2, $3, 'whsec_test', 0)`, [id, tenant, url]);
      subs.push(id);
    }
    const dispatcher = new WebhookDispatcher(t.db, writer, { baseBackoffMs: 50, maxBackoffMs: 100, listen: false });
    await dispatcher.start();
    try {
      await writer.record(sampleEntry(tenant, 1));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const logs = await Promise.all(subs.map((s) => listWebhookDeliveries(t.db, tenant, s)));
        if (logs.every((l) => l.length >= 2)) {
          for (const l of logs) {
            for (const d of l) {
              expect(d.status).toBeNull();
              expect(d.latencyMs).toBeNull();
              expect(d.error).toBe("refused: the webhook host is not a public address");
            }
          }
          break;
        }
        if (Date.now() > deadline) throw new Error(`deliveries not attempted: ${JSON.stringify(logs)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(hits).toBe(0);
    } finally {
      await dispatcher.stop();
      await writer.close();
    }
  }, 30_000);
});
