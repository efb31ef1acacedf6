// Shared helpers for the console specs: the stack's details, signing in through the UI,
// calling the API like an internal service, axe checks and screenshots.
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Json } from "../../testkit/api-client";
import type { StackInfo } from "./stack";

export function stack(): StackInfo {
  const raw = process.env.E2E_STACK;
  if (!raw) throw new Error("E2E_STACK is not set: run through playwright.config.ts (globalSetup starts the stack)");
  return JSON.parse(raw) as StackInfo;
}

export async function signIn(page: Page, email: string, password = passwordOf(email)): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  // exact: the SSO button ("Sign in with …") also starts with "Sign in".
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
}

/** The seeded console user's own password (every user has a different one). */
export function passwordOf(email: string): string {
  const pw = stack().passwords[email];
  if (!pw) throw new Error(`no seeded console user ${email}`);
  return pw;
}

const SHOTS = path.resolve(import.meta.dirname, "..", "screenshots");

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** No serious or critical accessibility violations (WCAG 2.1 A/AA rules). */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `accessibility violations on ${label}`,
  ).toEqual([]);
}

export interface ApiResult<T = Json> {
  status: number;
  body: T;
}

/** Calls the broker's API the way an internal service or the vendor's tooling does. */
export async function callApi<T = Json>(method: string, apiPath: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(stack().url + apiPath, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T };
}

export function encrypt(slug: string, token: string, plaintext: string, purpose = "e2e") {
  return callApi<{ ciphertext: string }>("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: Buffer.from(plaintext).toString("base64"), context: { table: "e2e" }, purpose } });
}

export function decrypt(slug: string, token: string, ciphertext: string, purpose = "e2e") {
  return callApi<{ plaintext: string }>("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context: { table: "e2e" }, purpose } });
}
