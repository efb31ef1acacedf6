// Where a webhook may point. A tenant chooses the URL, so without a guard the broker would POST
// into its own network (metadata services, databases, admin ports) and the delivery log would
// report what answered. Two checks:
// - at creation, the URL: http(s), no credentials, no local or single-label name, no literal
//   address outside the global unicast space;
// - at connect time, every address the name RESOLVES to (a custom `lookup` on the request), so
//   a name that points, or is later re-pointed (DNS rebinding), at a private address is refused
//   before a connection is made.
// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that
// IPv4 address. The demo switch (BROKER_WEBHOOK_ALLOW_PRIVATE=on, demo mode) turns both off.
import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/** IPv4 special-purpose ranges (RFC 6890 registry) that are not globally reachable, plus multicast and reserved. */
const V4_BLOCKED: Array<[string, number]> = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.31.196.0", 24], ["192.52.193.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16],
  ["192.175.48.0", 24], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];
/** IPv6: only 2000::/3 is global unicast; inside it, these special-purpose blocks are not reachable either. */
const V6_BLOCKED: Array<[string, number]> = [
  ["2001::", 23], ["2001:db8::", 32], ["2002::", 16], ["2620:4f:8000::", 48], ["3fff::", 20],
];

const v4List = new BlockList();
for (const [a, p] of V4_BLOCKED) v4List.addSubnet(a, p, "ipv4");
const v6List = new BlockList();
for (const [a, p] of V6_BLOCKED) v6List.addSubnet(a, p, "ipv6");

/** The 16 bytes of an IPv6 address (no zone id), or null when it is not one. */
function v6Bytes(addr: string): number[] | null {
  if (addr.includes("%") || isIP(addr) !== 6) return null;
  let text = addr.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1]!.split(".").map(Number));
    text = text.slice(0, -dotted[1]!.length) + "0:0";
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? h : [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (dotted) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : null;
}

const v4Of = (b: number[], at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const allZero = (b: number[], from: number, to: number) => b.slice(from, to).every((x) => x === 0);

/** True unless `addr` is a globally reachable unicast address. Anything that does not parse counts as non-global. */
export function isNonGlobalAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, "");
  const kind = isIP(a);
  if (kind === 4) return v4List.check(a, "ipv4");
  const b = v6Bytes(a);
  if (!b) return true;
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): the IPv4 address decides; :: and ::1 are in 0.0.0.0/8 that way.
  if (allZero(b, 0, 10) && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0))) return v4List.check(v4Of(b, 12), "ipv4");
  // NAT64 well-known prefix 64:ff9b::/96 translates to the embedded IPv4 address; 64:ff9b:1::/48 is local-use.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) return allZero(b, 4, 12) ? v4List.check(v4Of(b, 12), "ipv4") : true;
  // Outside 2000::/3 nothing is global unicast: ULA, link-local, site-local, multicast, discard, reserved.
  if ((b[0]! & 0xe0) !== 0x20) return true;
  // Inside it: Teredo and IETF assignments, documentation, and 6to4 (2002::/16, which would reach the
  // IPv4 address in bytes 2..5 through deprecated relays) are refused outright.
  return v6List.check(a, "ipv6");
}

/** Names that never leave the host or its site, whatever DNS says. */
export function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.+$/, "");
  if (h === "" || !h.includes(".")) return true; // single-label names resolve through search domains to internal hosts
  return ["localhost", "local", "internal", "localdomain", "home.arpa", "lan", "intranet", "corp", "private"].some((s) => h === s || h.endsWith(`.${s}`));
}

/** The URL host (as `new URL` gives it, brackets and all) is a literal or a name that must not be a webhook target. */
export function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (isIP(h)) return isNonGlobalAddress(h);
  return isLocalName(h);
}

export class WebhookAddressError extends Error {
  override readonly name = "WebhookAddressError";
  readonly code = "EWEBHOOKADDRESS";
}

/** A `lookup` for http(s).request that resolves as usual and refuses when any resolved address is not global. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, "", 4);
    const list = addresses as dns.LookupAddress[];
    if (list.length === 0 || list.some((a) => isNonGlobalAddress(a.address))) {
      return callback(new WebhookAddressError("webhook host resolves to a non-public address"), "", 4);
    }
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};
