// The broker's data directory holds the embedded database (webhook secrets, password hashes, the
// audit log), generated secrets and emulator keys: only the broker's own user may read it.
// PGlite's file layer creates its files 0666 whatever the umask, so the tree is tightened after
// the database is opened; files it creates later sit inside 0700 directories, which already
// keeps every other user out, and are tightened again at the next start.
import { chmodSync, existsSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";

export const PRIVATE_DIR_MODE = 0o700;

/**
 * Removes every group and other permission under (and including) `root`: directories become
 * 0700, files keep only their owner's bits (0666 -> 0600). Only entries owned by this process's
 * user are touched, symlinks are not followed, and the filesystem root is refused outright.
 */
export function restrictTree(root: string): void {
  if (root.startsWith("memory://") || !existsSync(root) || path.resolve(root) === path.parse(path.resolve(root)).root) return;
  const uid = process.getuid?.();
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) return;
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== PRIVATE_DIR_MODE) chmodSync(p, PRIVATE_DIR_MODE);
      for (const name of readdirSync(p)) walk(path.join(p, name));
    } else if (st.isFile() && (mode & 0o077) !== 0) {
      chmodSync(p, mode & 0o700);
    }
  };
  walk(root);
}
