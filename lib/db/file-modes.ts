// The broker's data directory holds the embedded database (webhook secrets, password hashes, the
// audit log), generated secrets and emulator keys: only the broker's own user may read it.
// PGlite's file layer creates its files 0666 whatever the umask, so the tree is tightened after
// the database is opened; files it creates later sit inside 0700 directories, which already
// keeps every other user out, and are tightened again at the next start.
import { chmodSync, existsSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Sets every directory under (and including) `root` to 0700 and every regular file to 0600. Symlinks are left alone. */
export function restrictTree(root: string): void {
  if (root.startsWith("memory://") || !existsSync(root)) return;
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(p, PRIVATE_DIR_MODE);
      for (const name of readdirSync(p)) walk(path.join(p, name));
    } else if (st.isFile() && (st.mode & 0o777) !== PRIVATE_FILE_MODE) {
      chmodSync(p, PRIVATE_FILE_MODE);
    }
  };
  walk(root);
}
