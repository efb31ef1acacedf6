// Offline verification of a JSON Lines audit export:
//   npm run audit:verify -- export.jsonl [--public-key broker.pem]
// Exit 0 when the chain and every checkpoint signature verify, 1 naming the first bad
// entry otherwise, 2 on usage errors. Pin --public-key (from /api/v1/audit/public-key)
// to guard against an export whose embedded key was swapped along with its contents.
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { keyIdOf } from "../lib/audit/signing";
import { verifyExport } from "../lib/audit/verify";
import type { BrokerPublicKey } from "../lib/audit/signing";

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error("usage: audit-verify <export.jsonl> [--public-key <file.pem>]");
  process.exit(2);
}

const args = process.argv.slice(2).filter((a) => a !== "--");
let file: string | undefined;
let pinned: BrokerPublicKey[] | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "--public-key") {
    const p = args[++i];
    if (!p) usage("--public-key needs a file");
    const pems = readFileSync(p, "utf8").match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g);
    if (!pems) usage(`${p} holds no PEM public key`);
    try {
      pinned = pems.map((pem) => ({ keyId: keyIdOf(pem), publicKeyPem: pem }));
    } catch {
      usage(`${p} holds an invalid public key`);
    }
  } else if (a === "-h" || a === "--help") usage();
  else if (!file) file = a;
  else usage(`unexpected argument ${a}`);
}
if (!file) usage();

const input = createReadStream(file, { encoding: "utf8" });
input.on("error", (e) => {
  console.error(`cannot read ${file}: ${e.message}`);
  process.exit(2);
});
const result = await verifyExport(createInterface({ input, crlfDelay: Infinity }), pinned);
if (result.ok) {
  const signed = result.signedThroughSeq === null ? "no signed checkpoint" : `signed through seq ${result.signedThroughSeq}`;
  console.log(`ok: ${result.count} entries verified (tenant ${result.tenantId}, seq ${result.firstSeq ?? "-"}..${result.lastSeq ?? "-"}, ${result.checkpoints} checkpoints, ${signed}, keys ${result.keyIds.join(",") || "none"})`);
  if (result.lastSeq !== null && (result.signedThroughSeq ?? 0) < result.lastSeq) {
    console.log(`note: entries after seq ${result.signedThroughSeq ?? 0} are hash-chained but not covered by a signature`);
  }
  process.exit(0);
}
const bad = result.firstBadEntry!;
console.error(`FAILED: first bad entry seq ${bad.seq}${bad.id ? ` (id ${bad.id})` : ""}: ${bad.problem}`);
console.error(`${result.count} entries verified before it`);
process.exit(1);
