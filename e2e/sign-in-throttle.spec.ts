// Finding #13 through the real sign-in endpoint (next-auth's credentials callback): an
// attacker's wrong passwords for a real user's email, sent from another address (127.0.0.2 on
// the loopback), back that attacker off with a retry-after, and do not keep the user out from
// their own address (Chromium on 127.0.0.1).
import http from "node:http";
import { expect, test } from "@playwright/test";
import { passwordOf, stack } from "./support/fixtures";

interface Reply {
  status: number;
  body: string;
  setCookies: string[];
}

function request(method: string, path: string, opts: { localAddress: string; cookie?: string; form?: Record<string, string> }): Promise<Reply> {
  const url = new URL(path, stack().url);
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        localAddress: opts.localAddress,
        headers: { ...(opts.cookie ? { cookie: opts.cookie } : {}), ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), setCookies: res.headers["set-cookie"] ?? [] }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One password sign-in as the form does it (csrf token, then the credentials callback); returns next-auth's error code or null. */
async function passwordSignIn(localAddress: string, email: string, password: string): Promise<string | null> {
  const csrf = await request("GET", "/api/auth/csrf", { localAddress });
  const cookie = csrf.setCookies.map((c) => c.split(";")[0]).join("; ");
  const { csrfToken } = JSON.parse(csrf.body) as { csrfToken: string };
  const res = await request("POST", "/api/auth/callback/credentials", { localAddress, cookie, form: { email, password, csrfToken, json: "true", callbackUrl: stack().url } });
  const { url } = JSON.parse(res.body) as { url: string };
  return new URL(url).searchParams.get("error");
}

const ATTACKER = "127.0.0.2";

test("an attacker's failures for a user's email back the attacker off but do not lock the user out", async ({ page }) => {
  const email = "auditor@initech.example";
  // More wrong passwords than the old per-email lockout (10) allowed, back to back.
  const errors: Array<string | null> = [];
  for (let i = 0; i < 14; i++) errors.push(await passwordSignIn(ATTACKER, email, `wrong-${i}`));
  expect(errors.slice(0, 5)).toEqual(Array(5).fill("CredentialsSignin"));
  const backoff = errors.filter((e) => e?.startsWith("TooManyAttempts:"));
  expect(backoff.length).toBeGreaterThan(0);
  for (const e of backoff) expect(Number(e!.split(":")[1])).toBeGreaterThanOrEqual(1);
  // While backing off, even the right password from the attacker's address is refused, with a retry-after.
  expect(await passwordSignIn(ATTACKER, email, passwordOf(email))).toMatch(/^TooManyAttempts:\d+$/);

  // The user, from their own address, signs in at once.
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(passwordOf(email));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/t\/initech$/);
});

test("the sign-in form says how long to wait while backing off", async ({ page }) => {
  const email = "auditor@umbrella.example";
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  const attempt = async (password: string) => {
    await page.getByLabel("Password").fill(password);
    const answered = page.waitForResponse((r) => r.url().includes("/api/auth/callback/credentials"));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await answered;
  };
  // Five free failures, then each failure starts a longer back-off; the next try lands in one
  // (retrying a few times, as a slow machine may take longer than the first 1 s wait).
  const alert = page.locator(".alert-error");
  for (let i = 0; i < 12; i++) {
    await attempt(`wrong-${i}`);
    await expect(alert).toBeVisible();
    if ((await alert.textContent())?.includes("Too many")) break;
  }
  await expect(alert).toHaveText(/Too many failed sign-ins for this email from your address\. Try again in \d+ seconds?\./);
  // The wait passes: the right password works again (the first back-off is short).
  await expect(async () => {
    await attempt(passwordOf(email));
    await expect(page).toHaveURL(/\/t\/umbrella$/, { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
});
