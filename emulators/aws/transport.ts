// HTTP/1.1 transport of the AWS KMS emulator: AWS JSON 1.1 (`x-amz-target: TrentService.<Op>`)
// with full SigV4 verification, STS GetCallerIdentity (./sts), and the shared control plane
// under /_emulator/.
//
// Call counting: a request is recorded once it has passed SigV4 and names an operation, and
// before fault injection, so faulted calls (throttle, 5xx, reset, blackhole) are counted too. That
// lets a test assert how many attempts the client really made.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { ControlPlane } from "../control";
import { closeTracked, listenTracked, readBody, sendJson, type ListenLabel } from "../http";
import { AwsError, type Body } from "./input";
import type { KmsService } from "./service";
import { SigV4Error, verifySigV4 } from "./sigv4";
import { answerSts, sendStsError, STS_AUTH_ERROR, stsAction } from "./sts";
import type { AwsPrincipal } from "./store";

const MAX_BODY = 1024 * 1024;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, body, { "x-amzn-requestid": randomUUID() }, "application/x-amz-json-1.1");
}

function sendAwsError(res: http.ServerResponse, e: AwsError): void {
  // Real KMS sends InvalidCiphertextException (and a few others) with no message at all.
  send(res, e.status, e.message ? { __type: e.type, message: e.message } : { __type: e.type });
}

export interface AwsTransport {
  port: number;
  close(): Promise<void>;
}

export async function startAwsTransport(
  service: KmsService,
  control: ControlPlane,
  listen: { port: number; host: string; label: ListenLabel },
): Promise<AwsTransport> {
  const store = service.store;
  const region = service.region;

  function authenticate(req: http.IncomingMessage, url: URL, body: Buffer, scope: "kms" | "sts"): AwsPrincipal {
    const akid = verifySigV4(
      { method: req.method ?? "POST", path: url.pathname, query: url.search.slice(1), headers: req.headers, body, region, service: scope },
      (id) => store.principalsByAkid.get(id)?.secretAccessKey,
    );
    return store.principalsByAkid.get(akid)!;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_BODY);
    const url = new URL(req.url ?? "/", "http://emulator");
    if (body === null) return send(res, 413, { __type: "SerializationException", message: "Request body too large" });
    if (control.isControlPath(url.pathname)) return control.handle(req, res, url.pathname, body);
    if (req.method !== "POST" || url.pathname !== "/") {
      return send(res, 404, { __type: "UnknownOperationException", message: `${req.method} ${url.pathname} is not a KMS endpoint` });
    }

    const sts = stsAction(req.headers["content-type"], body);
    let caller: AwsPrincipal;
    try {
      caller = authenticate(req, url, body, sts ? "sts" : "kms");
    } catch (e) {
      if (!(e instanceof SigV4Error)) throw e;
      if (sts) return sendStsError(res, 403, STS_AUTH_ERROR[e.type] ?? e.type, e.message);
      return sendAwsError(res, new AwsError(e.type, e.message));
    }
    if (sts) {
      if ((await control.admit(`sts:${sts.get("Action") ?? ""}`)) === "closed") return void req.socket.destroy();
      return answerSts(res, sts, caller);
    }

    const target = req.headers["x-amz-target"];
    const op = typeof target === "string" && target.startsWith("TrentService.") ? target.slice("TrentService.".length) : undefined;
    if (!op) return sendAwsError(res, new AwsError("UnknownOperationException", ""));
    let parsed: Body;
    try {
      const v: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
      parsed = v as Body;
    } catch {
      return sendAwsError(res, new AwsError("SerializationException", "Start of structure or map found where not expected."));
    }

    switch (await control.admit(op, service.peekKeyArn(op, parsed, caller))) {
      case "closed":
      case "reset":
        req.socket.destroy();
        return;
      case "server_error":
        return sendAwsError(res, new AwsError("KMSInternalException", "An internal error occurred.", 500));
      case "throttle":
        return sendAwsError(res, new AwsError("ThrottlingException", "Rate exceeded"));
      case "blackhole":
        return; // never answer; close() destroys the socket
      case "none":
        break;
    }

    try {
      send(res, 200, service.dispatch(op, parsed, caller));
    } catch (e) {
      if (e instanceof AwsError) return sendAwsError(res, e);
      throw e;
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error("aws-kms-emulator: internal error", e);
      send(res, 500, { __type: "KMSInternalException", message: "Emulator internal error." });
    });
  });
  const { port, sockets } = await listenTracked(server, listen.port, listen.host, listen.label);
  return { port, close: () => closeTracked(server, sockets) };
}
