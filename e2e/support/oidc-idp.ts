// A real OpenID Connect provider for the SSO specs: panva's oidc-provider (a certified
// implementation) on a free loopback port, with one confidential client for the console
// (authorization code + PKCE, auth_time always in the ID token) and test accounts whose
// email_verified claim is true, false or missing. Its login page is deliberately plain: an
// account name, and "signed in minutes ago", which lets a spec play an identity provider that
// reports an old authentication (auth_time) without waiting for one.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";

export interface IdpAccount {
  email: string;
  name: string;
  /** Omitted from the ID token when undefined. */
  emailVerified?: boolean;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid: string, params: Record<string, unknown>): string {
  const shown = ["prompt", "max_age"].map((k) => `<li>${k}: <span data-testid="idp-param-${k}">${escapeHtml(String(params[k] ?? ""))}</span></li>`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><main><h1>Test IdP</h1><ul>${shown}</ul>
<form method="post" action="/interaction/${uid}/login">
<label>Account <input name="login" autocomplete="off" required></label>
<label>Signed in minutes ago <input name="minutesAgo" type="number" value="0"></label>
<button type="submit">Sign in at the IdP</button>
</form></main></body></html>`;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function startTestIdp(opts: { redirectUri: string; accounts: Record<string, IdpAccount> }): Promise<TestIdp> {
  const clientId = "cmek-console";
  const clientSecret = randomBytes(24).toString("base64url");
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        require_auth_time: true,
      },
    ],
    // PKCE for this confidential client too, as the console sends it.
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // The console reads the email claims from the ID token.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount(_ctx, id) {
      const account = opts.accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        claims() {
          return { sub: id, email: account.email, name: account.name, ...(account.emailVerified === undefined ? {} : { email_verified: account.emailVerified }) };
        },
      };
    },
    // A first-party client: no consent screen; every login gets a grant for the console's scopes.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const accountId = ctx.oidc.session!.accountId!;
      const clientId = ctx.oidc.client!.clientId;
      const existingId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(clientId);
      const existing = existingId ? await ctx.oidc.provider.Grant.find(existingId) : undefined;
      if (existing && existing.accountId === accountId) return existing;
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  const oidc = provider.callback();

  server.on("request", (req, res) => {
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec((req.url ?? "").split("?")[0]!);
    if (!m) return void oidc(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(loginPage(details.uid, details.params));
          return;
        }
        const form = await readForm(req);
        const login = form.get("login") ?? "";
        if (!opts.accounts[login]) {
          res.writeHead(400, { "content-type": "text/plain" }).end("unknown test account");
          return;
        }
        const minutesAgo = Number(form.get("minutesAgo") ?? 0) || 0;
        const ts = Math.floor(Date.now() / 1000) - Math.round(minutesAgo * 60);
        await provider.interactionFinished(req, res, { login: { accountId: login, ts } }, { mergeWithLastSubmission: false });
      } catch (e) {
        res.writeHead(500, { "content-type": "text/plain" }).end(`test IdP: ${(e as Error).message}`);
      }
    })();
  });

  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
