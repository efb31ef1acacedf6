// Connect a KMIP key in the wizard: the wizard shows the broker's client certificate for this
// tenant (PEM and SHA-256 fingerprint); the tenant registers it in its KMIP server (PyKMIP in the
// e2e stack, through the stack's control endpoint), creates a key, and gives the key reference and
// its server's CA; the broker validates with a real wrap + unwrap over KMIP.
import { expect, test } from "@playwright/test";
import { createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

test("tenant admin connects and validates a KMIP key (PyKMIP)", async ({ page }) => {
  const s = stack();
  expect(s.kmip, "the e2e stack starts PyKMIP when python3-pykmip is installed (.ci/run installs it)").not.toBeNull();
  const { slug } = await createTenant("kmip");
  await signIn(page, `admin@${slug}.example`);
  await page.goto(`/t/${slug}/key`);
  await page.getByRole("radio", { name: "KMIP key manager" }).check();

  const certificatePem = (await page.getByTestId("grant-kmip-certificate").textContent())!;
  expect(certificatePem).toContain("-----BEGIN CERTIFICATE-----");
  const fingerprint = (await page.getByTestId("grant-kmip-fingerprint").textContent())!.trim();
  expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  await expect(page.getByTestId("grant-kmip-hosts")).toContainText(`${s.kmip!.host}:${s.kmip!.port}`);
  const commonName = /CN (cmek-broker-[0-9a-f-]+)/.exec((await page.getByText(/Add this certificate/).textContent())!)![1]!;

  // The tenant's KMIP administrator registers the certificate and creates an AES-256 key.
  const res = await fetch(`${s.control.url}/kmip-key`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.control.token}`, "content-type": "application/json" },
    body: JSON.stringify({ commonName, certificatePem }),
  });
  expect(res.status).toBe(200);
  const key = (await res.json()) as { keyRef: string; caPem: string };

  await page.getByLabel("KMIP server and the key's Unique Identifier").fill(key.keyRef);
  await expect(page.getByText("Format looks right.")).toBeVisible();
  await page.getByLabel("KMIP server CA certificate (PEM)").fill(key.caPem);
  // A KMIP server that is slow to answer (PyKMIP on a busy machine) is a retryable 503, which
  // the tenant retries like any user would; a refusal would fail here.
  for (let attempt = 1; ; attempt++) {
    await page.getByRole("button", { name: "Validate and connect" }).click();
    const outcome = page.getByText("Connected.").or(page.getByText("could not reach the KMS"));
    await expect(outcome).toBeVisible({ timeout: 20_000 });
    if (await page.getByText("Connected.").isVisible()) break;
    expect(attempt, "the KMIP server stayed unreachable").toBeLessThan(4);
  }
  await expect(page.getByTestId("connect-state")).toHaveText("active");
  await screenshot(page, "connect-key-kmip");
  await expectAccessible(page, "connect key (KMIP)");
});
