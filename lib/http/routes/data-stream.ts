// Streaming encrypt and decrypt: application/octet-stream in and out, for payloads of any size
// in constant memory. The context, purpose and (encrypt) data class travel in headers
// (x-cmek-context: base64url of the JSON context object; x-cmek-purpose; x-cmek-data-class). A
// stream that completes ends with the trailer `x-cmek-stream: complete`; one that fails after its
// first byte is aborted (the connection is reset, so the chunked body never ends cleanly), which
// every HTTP client reports as an error.
import type { Readable } from "node:stream";
import type { FastifyReply } from "fastify";
import { BrokerError } from "../../broker/errors";
import { decryptStream } from "../../broker/operations/decrypt-stream";
import { encryptStream } from "../../broker/operations/encrypt-stream";
import { ZStreamHeaders } from "../../contracts/batch";
import { ZEncryptionContext } from "../../contracts/requests";
import type { EncryptionContext } from "../../crypto/canonical-context";
import { sendError } from "../errors";
import { defineRoute, type RouteEnv } from "../route";
import { ZError, ZSlugParams } from "../schemas";
import { auditRefusal } from "./data";

export const STREAM_TRAILER = "x-cmek-stream";

function streamContext(header: string | undefined): EncryptionContext | undefined {
  if (header === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    throw new BrokerError("invalid_request", "x-cmek-context must be base64url of a JSON object of strings");
  }
  return ZEncryptionContext.parse(json);
}

function isReadable(body: unknown): body is Readable {
  return typeof (body as Readable | null)?.iterator === "function";
}

/** Sends the stream; a failure before its first byte becomes an ordinary error answer, after it an abort. */
function sendStream(reply: FastifyReply, out: Readable) {
  reply.type("application/octet-stream");
  reply.trailer(STREAM_TRAILER, () => Promise.resolve("complete"));
  out.once("error", () => {
    // Before the first byte the failure is answered as JSON: drop what was set up for the stream.
    reply.removeTrailer(STREAM_TRAILER);
    for (const name of ["transfer-encoding", "trailer"]) {
      reply.removeHeader(name);
      if (!reply.raw.headersSent) reply.raw.removeHeader(name);
    }
    // The rest of a refused upload is not worth reading: close the connection after the answer.
    reply.raw.shouldKeepAlive = false;
  });
  return reply.send(out);
}

export function dataStreamRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError, 409: ZError, 415: ZError, 423: ZError, 503: ZError };
  const rawBody = { description: "the bytes to encrypt, of any length (application/octet-stream)" };
  const wrongType = (reply: FastifyReply) => sendError(reply, "invalid_request", 415, "send the body as application/octet-stream");

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/encrypt/stream",
    summary: "Encrypt a byte stream of any length into the framed stream format, in constant memory",
    tag: "data",
    access: "data.encrypt",
    params: ZSlugParams,
    rawBody,
    headers: ZStreamHeaders,
    responses: {
      200: { description: "the sealed stream: header, then 64 KiB frames, the last marked final; ends with the trailer x-cmek-stream: complete", media: ["application/octet-stream"] },
      ...errors,
    },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "encrypt", requestId, error, caller),
    handler: async ({ req, reply, params, caller, requestId }) => {
      if (!isReadable(req.body)) return wrongType(reply);
      const headers = ZStreamHeaders.parse(req.headers);
      const input = req.body.iterator({ destroyOnReturn: false });
      const out = await encryptStream({ ctx, actor: caller!, tenant: params.slug, requestId, input, context: streamContext(headers["x-cmek-context"]), purpose: headers["x-cmek-purpose"], dataClass: headers["x-cmek-data-class"] });
      return sendStream(reply, out);
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/decrypt/stream",
    summary: "Decrypt a stream of this tenant, with the context it was encrypted with; plaintext leaves frame by frame, each only after it verified",
    tag: "data",
    access: "data.decrypt",
    params: ZSlugParams,
    rawBody: { description: "a stream made by /encrypt/stream (application/octet-stream)" },
    headers: ZStreamHeaders,
    responses: {
      200: {
        description: "the plaintext; ends with the trailer x-cmek-stream: complete. A failure after the first byte aborts the response (connection reset, no clean end of the chunked body)",
        media: ["application/octet-stream"],
      },
      422: ZError,
      ...errors,
    },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "decrypt", requestId, error, caller),
    handler: async ({ req, reply, params, caller, requestId }) => {
      if (!isReadable(req.body)) return wrongType(reply);
      const headers = ZStreamHeaders.parse(req.headers);
      const input = req.body.iterator({ destroyOnReturn: false });
      const out = await decryptStream({ ctx, actor: caller!, tenant: params.slug, requestId, input, context: streamContext(headers["x-cmek-context"]), purpose: headers["x-cmek-purpose"] });
      return sendStream(reply, out);
    },
  });
}
