// The ceiling: a bare node:http server doing the broker's data-path work and nothing else —
// read a JSON body, base64-decode, AES-256-GCM decrypt (or encrypt) with an in-memory key,
// answer JSON. No auth, no database, no audit. Same URLs and bodies as the broker, so the
// same load generator drives both. Run as a child process: `tsx bench/ceiling-server.ts`.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { open, seal } from "./lib/aes";

const key = Buffer.from(process.env.BENCH_KEY_HEX ?? "", "hex");
if (key.length !== 32) throw new Error("BENCH_KEY_HEX must be 32 bytes of hex");

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { ciphertext?: string; plaintext?: string };
      const out = req.url!.endsWith("/decrypt")
        ? { plaintext: open(key, Buffer.from(body.ciphertext!, "base64")).toString("base64") }
        : { ciphertext: seal(key, Buffer.from(body.plaintext!, "base64")).toString("base64") };
      const json = JSON.stringify(out);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) });
      res.end(json);
    } catch {
      res.writeHead(400).end();
    }
  });
});

server.listen(0, "127.0.0.1", () => {
  // The parent reads the port from this line.
  console.log(`ceiling listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
