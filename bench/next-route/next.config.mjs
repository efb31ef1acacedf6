// A separate, minimal Next.js app (one route handler) built from the repository's node_modules.
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export default { turbopack: { root }, outputFileTracingRoot: root, typescript: { ignoreBuildErrors: true } };
