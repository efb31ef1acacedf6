// Tenant admin journey on AWS: sign in → connect a key (copy the grant, apply it at the
// emulator, validate) → create a service token → encrypt/decrypt through the API → audit →
// Lock now (API answers 423) → Unlock fails while the key is disabled, succeeds once re-enabled.
import { GetKeyPolicyCommand, PutKeyPolicyCommand } from "@aws-sdk/client-kms";
import { expect, test } from "@playwright/test";
import { decode, encode } from "next-auth/jwt";
import { AWS_EMULATOR_VENDOR } from "../emulators/aws/server";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { callApi, createTenant, decrypt, encrypt, expectAccessible, passwordOf, screenshot, signIn, stack } from "./support/fixtures";

// Each test has a tenant of its own (createTenant): none relies on what another one did.

test("tenant admin connects an AWS key, issues a token, locks and unlocks", async ({ page }) => {
  const s = stack();
  const t = await createTenant("acme");
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    await signIn(page, t.adminEmail);
    await expect(page).toHaveURL(new RegExp(`/t/${t.slug}$`));
    await expect(page.getByRole("heading", { name: t.name })).toBeVisible();
    await expect(page.getByText("No key connected yet")).toBeVisible();
    await screenshot(page, "tenant-overview-empty");
    await expectAccessible(page, "tenant overview (no key)");

    // --- connect the key
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Connect key" }).click();
    await expect(page.getByRole("heading", { name: "Connect your key" })).toBeVisible();
    const keyArn = await aws.createKey("e2e acme key");
    const keyField = page.getByLabel("Key ARN (or alias ARN)");
    await keyField.fill("arn:aws:kms:us-east-1:123:key/nope");
    await expect(page.locator(".field-error")).toBeVisible();
    await keyField.fill(keyArn);
    await expect(page.getByText("Format looks right.")).toBeVisible();

    // Before the grant, validation fails and says why.
    await page.getByRole("button", { name: "Validate and connect" }).click();
    await expect(page.getByText("Validation failed")).toBeVisible();
    await expect(page.getByTestId("validation-steps").locator('li[data-step="wrap"]')).toHaveAttribute("data-ok", "false");
    await expect(page.getByTestId("validation-steps")).toContainText("not allowed");

    // Copy the key policy statement exactly as shown, and apply it as the tenant would.
    const policyBlock = page.getByTestId("grant-aws-policy");
    await page.locator(".codeblock", { has: policyBlock }).getByRole("button", { name: "Copy" }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(await policyBlock.textContent());
    const statement = JSON.parse(copied) as { Principal: { AWS: string }; Condition: { StringEquals: Record<string, string> } };
    expect(statement.Principal.AWS).toBe(AWS_EMULATOR_VENDOR.arn);
    expect(statement.Condition.StringEquals["kms:EncryptionContext:tenant"]).toBe(t.id);
    await expect(page.getByTestId("grant-aws-cli")).toContainText(`--key-id ${keyArn}`);
    const current = await aws.client.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: "default" }));
    const policy = JSON.parse(current.Policy!) as { Statement: unknown[] };
    policy.Statement.push(statement);
    await aws.client.send(new PutKeyPolicyCommand({ KeyId: keyArn, PolicyName: "default", Policy: JSON.stringify(policy) }));

    await page.getByRole("button", { name: "Validate and connect" }).click();
    await expect(page.getByText("Connected.")).toBeVisible();
    await expect(page.getByTestId("connect-state")).toHaveText("active");
    for (const step of ["wrap", "unwrap", "compare"]) {
      await expect(page.getByTestId("validation-steps").locator(`li[data-step="${step}"]`)).toHaveAttribute("data-ok", "true");
    }
    await screenshot(page, "connect-key-aws");
    await expectAccessible(page, "connect key");

    // --- service token, shown once
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Service tokens" }).click();
    await expect(page.getByText("No service tokens yet")).toBeVisible();
    await page.getByLabel("Name").fill("billing");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.getByTestId("new-token").textContent())!.trim();
    expect(token.length).toBeGreaterThan(20);
    await expect(page.getByTestId("token-row-billing")).toBeVisible();
    await screenshot(page, "service-tokens");
    await expectAccessible(page, "service tokens");

    // --- the data path, as an internal service
    const enc = await encrypt(t.slug, token, "card 4111");
    expect(enc.status).toBe(200);
    const dec = await decrypt(t.slug, token, enc.body.ciphertext);
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.plaintext, "base64").toString()).toBe("card 4111");

    // --- audit (when the audit API is present on this build)
    const auditApi = await callApi("GET", `/api/v1/tenants/${t.slug}/audit?limit=5`, { token: s.adminToken });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
    await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
    if (auditApi.status === 200) {
      await expect(page.getByTestId("audit-table")).toContainText("decrypt");
      await expect(page.getByTestId("audit-table")).toContainText("encrypt");
    }
    await screenshot(page, "audit-log");
    await expectAccessible(page, "audit log");

    // --- kill switch
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Key health" }).click();
    await expect(page.getByTestId("tenant-state")).toHaveText("active");
    await expect(page.getByTestId("key-id")).toHaveText(keyArn);
    await screenshot(page, "tenant-overview-active");
    await expectAccessible(page, "tenant overview (active)");
    await page.getByRole("button", { name: "Lock now" }).click();
    const dialog = page.getByRole("dialog", { name: `Lock ${t.name} now?` });
    await expect(dialog).toContainText("Every service using this tenant will immediately fail to encrypt or decrypt");
    await dialog.getByLabel("Reason (recorded in the audit log)").fill("e2e kill switch");
    await screenshot(page, "lock-confirmation");
    await dialog.getByRole("button", { name: "Lock and stop all decryption" }).click();
    await expect(page.getByTestId("locked-banner")).toBeVisible();
    await expect(page.getByTestId("tenant-state")).toHaveText("locked");
    const refused = await encrypt(t.slug, token, "after lock");
    expect(refused.status).toBe(423);
    expect((refused.body as unknown as { error: { code: string } }).error.code).toBe("tenant_locked");
    await screenshot(page, "tenant-locked");
    await expectAccessible(page, "tenant overview (locked)");

    // Unlock re-validates: with the key disabled it fails and says so; re-enabled, it succeeds.
    await aws.disable(keyArn);
    await page.getByRole("button", { name: "Unlock" }).click();
    await expect(page.getByText("Unlock failed: the key did not validate")).toBeVisible();
    await expect(page.getByTestId("tenant-state")).toHaveText("locked");
    await aws.enable(keyArn);
    await page.getByRole("button", { name: "Unlock" }).click();
    await expect(page.getByText("Unlocked: the key was re-validated")).toBeVisible();
    await expect(page.getByTestId("tenant-state")).toHaveText("active");
    const again = await encrypt(t.slug, token, "after unlock");
    expect(again.status).toBe(200);
  } finally {
    aws.close();
  }
});

test("a stale login must confirm the password before locking; a wrong password is refused and locks nothing", async ({ page, context }) => {
  const s = stack();
  const t = await createTenant("acme", { awsKey: true });
  await signIn(page, t.adminEmail);
  // Age the session's authTime past the 5-minute window, as if the admin signed in long ago.
  const cookie = (await context.cookies()).find((c) => c.name === "next-auth.session-token")!;
  const jwt = (await decode({ token: cookie.value, secret: s.nextAuthSecret }))!;
  const stale = await encode({ token: { ...jwt, authTime: Date.now() - 10 * 60_000 }, secret: s.nextAuthSecret });
  await context.addCookies([{ ...cookie, value: stale }]);

  await page.goto(`/t/${t.slug}`);
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
  await page.getByRole("button", { name: "Lock now" }).click();
  await page.getByRole("dialog", { name: `Lock ${t.name} now?` }).getByRole("button", { name: "Lock and stop all decryption" }).click();
  const reauth = page.getByRole("dialog", { name: "Confirm it's you" });
  await expect(reauth).toBeVisible();
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
  await reauth.getByLabel("Password").fill("not the password");
  await reauth.getByRole("button", { name: "Confirm" }).click();
  await expect(reauth).toContainText("That password is not correct.");
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
  await screenshot(page, "reauth-dialog");
  await expectAccessible(page, "re-authentication dialog");
  await reauth.getByLabel("Password").fill(passwordOf(t.adminEmail));
  await reauth.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("tenant-state")).toHaveText("locked");
  await page.getByRole("button", { name: "Unlock" }).click();
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
});

test("cookie-authenticated mutations need the console's CSRF header and origin", async ({ page, context }) => {
  const s = stack();
  const t = await createTenant("acme");
  await signIn(page, t.adminEmail);
  const cookie = (await context.cookies()).find((c) => c.name === "next-auth.session-token")!;
  const headers = { cookie: `${cookie.name}=${cookie.value}` };
  const noHeader = await callApi("POST", `/api/v1/tenants/${t.slug}/tokens`, { headers, body: { name: "csrf" } });
  expect(noHeader.status).toBe(403);
  const crossOrigin = await callApi("POST", `/api/v1/tenants/${t.slug}/tokens`, { headers: { ...headers, "x-cmek-csrf": "1", origin: "https://evil.example" }, body: { name: "csrf" } });
  expect(crossOrigin.status).toBe(403);
  const ok = await callApi("POST", `/api/v1/tenants/${t.slug}/tokens`, { headers: { ...headers, "x-cmek-csrf": "1", origin: s.url }, body: { name: "csrf" } });
  expect(ok.status).toBe(201);
  const me = await callApi("GET", "/api/v1/me", { headers });
  expect(me.body).toMatchObject({ kind: "console", email: t.adminEmail, role: "tenant_admin", tenantSlug: t.slug });
});
