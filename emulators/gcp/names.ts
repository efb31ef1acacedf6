// Cloud KMS resource names: projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions/*.

export const PROJECT = "[a-z][-a-z0-9]{4,28}[a-z0-9]";
export const LOCATION = "[a-z0-9-]{1,63}";
export const ID = "[a-zA-Z0-9_-]{1,63}";
export const LOCATION_RE = new RegExp(`^projects/(${PROJECT})/locations/(${LOCATION})$`);
export const RING_RE = new RegExp(`^projects/(${PROJECT})/locations/(${LOCATION})/keyRings/(${ID})$`);
export const KEY_RE = new RegExp(`^(projects/(${PROJECT})/locations/${LOCATION}/keyRings/${ID})/cryptoKeys/(${ID})$`);
export const VERSION_RE = new RegExp(`^((projects/(${PROJECT})/locations/${LOCATION}/keyRings/${ID})/cryptoKeys/${ID})/cryptoKeyVersions/([1-9][0-9]{0,9})$`);
export const ID_RE = new RegExp(`^${ID}$`);

export interface ParsedName {
  project: string;
  ring: string;
  key?: string;
  version?: number;
}

export function parseName(name: string): ParsedName | null {
  let m = VERSION_RE.exec(name);
  if (m) return { project: m[3]!, ring: m[2]!, key: m[1]!, version: Number(m[4]) };
  m = KEY_RE.exec(name);
  if (m) return { project: m[2]!, ring: m[1]!, key: name };
  m = RING_RE.exec(name);
  if (m) return { project: m[1]!, ring: name };
  return null;
}

/** The crypto key a request is about, for call counting (version names collapse to their key). */
export function cryptoKeyOf(name: unknown): string | undefined {
  if (typeof name !== "string") return undefined;
  const p = parseName(name);
  return p?.key ?? (p ? p.ring : undefined);
}

