// Key Vault error bodies the emulator answers with (texts from public captures, KMS-NOTES.md section 2).

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

export const keyNotFound = (name: string) =>
  new HttpError(
    404,
    "KeyNotFound",
    `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

export const forbiddenByRbac = (vaultTenantId: string, action: string, principal: string, name: string, resource: "keys" | "deletedKeys" = "keys") =>
  new HttpError(
    403,
    "Forbidden",
    `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${principal};iss=https://sts.windows.net/${vaultTenantId}/\r\nAction: 'Microsoft.KeyVault/vaults/${resource}/${action}'\r\nResource: '/${resource === "keys" ? "keys" : "deletedkeys"}/${name}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: emulator;location=local\r\n`,
    "ForbiddenByRbac",
  );
