// Finding #7: the path the console follows after sign-in must stay on the console's origin,
// however the candidate is spelled. Each row is resolved the way a browser resolves it.
import { describe, expect, test } from "vitest";
import { safeCallbackPath, safeRedirectUrl } from "@/lib/auth/callback-url";

const ORIGIN = "http://127.0.0.1:3917";

describe("safeCallbackPath keeps the browser on the console's origin", () => {
  test.each([
    // Leaves the origin: falls back to "/".
    ["backslash after slash (the reported bypass)", "/\\evil.example/x", "/"],
    ["tab between slashes (the reported bypass, decoded)", "/\t/evil.example/x", "/"],
    ["newline between slashes", "/\n/evil.example/x", "/"],
    ["carriage return between slashes", "/\r/evil.example/x", "/"],
    ["protocol-relative", "//evil.example/x", "/"],
    ["two backslashes", "\\\\evil.example/x", "/"],
    ["backslash then slash", "\\/evil.example", "/"],
    ["three slashes", "///evil.example", "/"],
    ["absolute other origin", "https://evil.example/x", "/"],
    ["same host, other port", "http://127.0.0.1:9999/t/acme", "/"],
    ["same host, other scheme", "https://127.0.0.1:3917/t/acme", "/"],
    ["javascript: URL", "javascript:alert(document.domain)", "/"],
    ["javascript: URL with leading space and mixed case", " JavaScript:alert(1)", "/"],
    ["javascript: URL split by a tab", "java\tscript:alert(1)", "/"],
    ["data: URL", "data:text/html,<script>alert(1)</script>", "/"],
    ["credentials trick", "http://127.0.0.1:3917@evil.example/", "/"],
    ["leading whitespace before //", "  //evil.example", "/"],
    ["empty", "", "/"],
    // Stays on the origin: kept, normalised to a path that cannot name a host.
    ["plain path", "/t/acme", "/t/acme"],
    ["path with query and fragment", "/t/acme/audit?action=encrypt#row-3", "/t/acme/audit?action=encrypt#row-3"],
    ["absolute same-origin URL", "http://127.0.0.1:3917/t/acme/key", "/t/acme/key"],
    ["dot segments that end in //", "/.//evil.example/x", "/evil.example/x"],
    ["encoded backslash stays encoded (a path, not a host)", "/%5Cevil.example/x", "/%5Cevil.example/x"],
    ["encoded tab stays encoded", "/%09/evil.example/x", "/%09/evil.example/x"],
    ["encoded slash stays encoded", "/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["relative path resolves under the origin", "t/acme", "/t/acme"],
  ])("%s: %j → %j", (_label, candidate, expected) => {
    expect(safeCallbackPath(candidate, ORIGIN)).toBe(expected);
    // Whatever comes back, a browser on the console resolves it to the console's origin.
    expect(new URL(safeCallbackPath(candidate, ORIGIN), `${ORIGIN}/sign-in`).origin).toBe(ORIGIN);
  });

  test("non-strings, overlong values and a broken origin fall back", () => {
    expect(safeCallbackPath(undefined, ORIGIN)).toBe("/");
    expect(safeCallbackPath(["/a", "/b"] as unknown as string, ORIGIN)).toBe("/");
    expect(safeCallbackPath(`/${"a".repeat(5000)}`, ORIGIN)).toBe("/");
    expect(safeCallbackPath("/t/acme", "not a url")).toBe("/");
    expect(safeCallbackPath("//evil.example", ORIGIN, "/ops")).toBe("/ops");
  });
});

describe("safeRedirectUrl (next-auth's redirect callback)", () => {
  test.each([
    ["/\\evil.example/x", `${ORIGIN}/`],
    ["/\t/evil.example/x", `${ORIGIN}/`],
    ["https://evil.example/", `${ORIGIN}/`],
    ["/t/acme?x=1", `${ORIGIN}/t/acme?x=1`],
    [`${ORIGIN}/sign-in?error=AccessDenied`, `${ORIGIN}/sign-in?error=AccessDenied`],
  ])("%j → %j", (url, expected) => {
    expect(safeRedirectUrl(url, ORIGIN)).toBe(expected);
  });
});
