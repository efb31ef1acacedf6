// Where the console may send a browser after sign-in. The check resolves the candidate the way
// a browser does (WHATWG URL: backslashes act as slashes, tabs and newlines are dropped, `//`
// starts a host) and keeps it only if it lands on the console's own origin. A prefix test on
// the raw string ("starts with / but not //") is what let `/\evil.example` and `/%09/evil.example`
// through: the browser reads both as `//evil.example`.

/** The path (with query and fragment) on `origin` that `candidate` points to, or `fallback` if it leaves the origin. */
export function safeCallbackPath(candidate: string | null | undefined, origin: string, fallback = "/"): string {
  if (typeof candidate !== "string" || candidate === "" || candidate.length > 2048) return fallback;
  let base: URL;
  let target: URL;
  try {
    base = new URL(origin);
    target = new URL(candidate, base);
  } catch {
    return fallback;
  }
  if (target.origin !== base.origin || (target.protocol !== "http:" && target.protocol !== "https:")) return fallback;
  // A path like `//evil.example` is same-origin as an absolute URL but protocol-relative when
  // written alone: collapse leading slashes so the returned path cannot name a host.
  const path = `/${target.pathname.replace(/^[/\\]+/, "")}`;
  return `${path}${target.search}${target.hash}`;
}

/** next-auth's `redirect` callback: same-origin targets as absolute URLs, anything else goes home. */
export function safeRedirectUrl(url: string, baseUrl: string): string {
  const base = new URL(baseUrl);
  return new URL(safeCallbackPath(url, base.origin), base.origin).href;
}
