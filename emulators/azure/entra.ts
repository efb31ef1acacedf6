// The Entra ID side of the Azure emulator on the vault's own origin: OpenID configuration and
// the client-credentials token endpoint the real ClientSecretCredential uses.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, sendJson as sendJsonRaw } from "../http";
import type { VaultStore } from "./store";

export const TOKEN_TTL_S = 3600;
const MAX_BODY = 1 << 20;

/** JSON with the header every Key Vault answer carries. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonRaw(res, status, body, { "x-ms-keyvault-service-version": "emulator", ...headers }, "application/json; charset=utf-8");
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createEntra(store: VaultStore, vaultTenantId: string, originOf: () => string) {
  function openidConfiguration(tenant: string): unknown {
    const origin = originOf();
    const base = `${origin}/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${origin}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "aud", "exp", "iat", "tid"],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: "EU",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  }

  async function token(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const raw = await readBody(req, MAX_BODY);
    if (raw === null) return sendJson(res, 413, { error: "invalid_request", error_description: "Request body too large." });
    const form = new URLSearchParams(raw.toString("utf8"));
    const aadError = (status: number, error: string, description: string, code: number) =>
      sendJson(res, status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomBytes(8).toString("hex")} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
      });
    if (form.get("grant_type") !== "client_credentials") {
      return aadError(400, "unsupported_grant_type", "The emulator supports only the client_credentials grant.", 70003);
    }
    const clientId = form.get("client_id") ?? "";
    const p = store.principals.get(clientId);
    if (!p) {
      return aadError(400, "unauthorized_client", `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`, 700016);
    }
    if (!safeEqual(form.get("client_secret") ?? "", p.clientSecret)) {
      return aadError(401, "invalid_client", `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, 7000215);
    }
    // A principal may get tokens from its home tenant, or from the vault's tenant (a
    // multi-tenant app consented there); any other tenant does not know the app.
    if (tenant !== p.tenantId && tenant !== vaultTenantId) {
      return aadError(400, "unauthorized_client", `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`, 700016);
    }
    const accessToken = randomBytes(32).toString("base64url");
    store.tokens.set(accessToken, { clientId, tenantId: tenant, expiresAt: Date.now() + TOKEN_TTL_S * 1000 });
    sendJson(res, 200, { token_type: "Bearer", expires_in: TOKEN_TTL_S, ext_expires_in: TOKEN_TTL_S, access_token: accessToken });
  }

  return { openidConfiguration, token };
}
