// The registry reachable here serves only the Linux builds of platform-specific optional packages,
// so `npm install` cannot record the others and `npm ci` then calls the lock file out of sync.
// Writes the standard lock entries for them (optional, with os/cpu), which npm skips on Linux
// without fetching. Run after changing dependencies: node scripts/fix-lock-platform-entries.mjs
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const platformOf = (name) => {
  const m = /-(darwin|win32|linux|freebsd|android|openbsd|sunos|aix)-(arm64|x64|ia32|arm|ppc64|s390x|riscv64|loong64)/.exec(name);
  return m ? { os: [m[1]], cpu: [m[2]] } : null;
};
let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const where = `${key ? key + "/" : ""}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (lock.packages[where] || lock.packages[hoisted]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    lock.packages[hoisted] = { version: String(version).replace(/^[\^~]/, ""), optional: true, ...platform, license: pkg.license };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
console.log(`added ${added} platform entries`);
