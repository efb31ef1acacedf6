// BROKER_REUSE_PORT: instances on one machine share one port (SO_REUSEPORT) and the kernel
// spreads connections over them; without it a second instance on a taken port fails to start.
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.close();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** The instance answering /api/health on a new connection (no keep-alive, so each call is a new connection). */
function instanceAt(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/api/health", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve((JSON.parse(body) as { instance: string }).instance));
    });
    req.on("error", reject);
  });
}

describe("instances sharing a port", () => {
  it("both answer on the one port with BROKER_REUSE_PORT=on, and a taken port without it is a clear start failure", async () => {
    const port = String(await freePort());
    const a = await h.startInstance({ PORT: port, BROKER_REUSE_PORT: "on", BROKER_INSTANCE_ID: "shared-a" });
    const b = await h.startInstance({ PORT: port, BROKER_REUSE_PORT: "on", BROKER_INSTANCE_ID: "shared-b" });
    expect(a.url).toBe(b.url);
    const seen = new Set<string>();
    // The kernel picks an instance per connection (a hash of the client's address and port).
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(await instanceAt(Number(port)));
    expect([...seen].sort()).toEqual(["shared-a", "shared-b"]);

    await expect(h.startInstance({ PORT: port, BROKER_INSTANCE_ID: "third" })).rejects.toThrow(/EADDRINUSE/);
  }, 60_000);
});
