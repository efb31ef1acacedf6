// STS GetCallerIdentity on the same endpoint (AWS Query protocol: form body, XML answer), so a
// broker can learn the ARN it runs as and compare it with the ARN an AccessDeniedException
// names. Point the SDK's STS client at the emulator URL (AWS_ENDPOINT_URL_STS); signing scope "sts".
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { AwsPrincipal } from "./store";

const NS = "https://sts.amazonaws.com/doc/2011-06-15/";

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The form body of an STS Query request, or null when the body is not one. */
export function stsAction(contentType: string | undefined, body: Buffer): URLSearchParams | null {
  if (!contentType?.startsWith("application/x-www-form-urlencoded")) return null;
  const form = new URLSearchParams(body.toString("utf8"));
  return form.has("Action") ? form : null;
}

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml), "x-amzn-requestid": requestId });
  res.end(xml);
}

export function sendStsError(res: ServerResponse, status: number, code: string, message: string): void {
  const id = randomUUID();
  sendXml(
    res,
    status,
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`,
    id,
  );
}

/** STS names the SigV4 failures differently from KMS. */
export const STS_AUTH_ERROR: Record<string, string> = {
  UnrecognizedClientException: "InvalidClientTokenId",
  InvalidSignatureException: "SignatureDoesNotMatch",
};

export function answerSts(res: ServerResponse, form: URLSearchParams, caller: AwsPrincipal): void {
  const action = form.get("Action");
  if (action !== "GetCallerIdentity") {
    return sendStsError(res, 400, "InvalidAction", `Could not find operation ${action ?? ""} for version ${form.get("Version") ?? ""}`);
  }
  const id = randomUUID();
  sendXml(
    res,
    200,
    `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult>` +
      `<Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.accessKeyId)}</UserId><Account>${caller.accountId}</Account>` +
      `</GetCallerIdentityResult><ResponseMetadata><RequestId>${id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    id,
  );
}
