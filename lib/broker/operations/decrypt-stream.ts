// POST /api/v1/tenants/{slug}/decrypt/stream: opens a stream of the framed format and streams
// its plaintext out in constant memory. Its data class comes from the stream's header (format
// byte 0x02: `default`) and is admitted (lock scope, key) before the DEK is looked up; the DEK
// must be of that class. A frame's plaintext leaves only after its tag verified,
// and the final frame's only after the input ended right behind it and the stream's end is
// durable in the audit log. A failure before the first byte of output is an ordinary error
// answer (422 invalid_ciphertext, 423, 503); a failure after it errors the returned stream (the
// HTTP layer aborts the response, so the client never sees a clean end) and is audited.
import { Readable } from "node:stream";
import type { EncryptionContext } from "../../crypto/canonical-context";
import { parseStreamHeader, streamHeaderLength, StreamFrameError } from "../../crypto/stream-frames";
import { StreamOpener } from "../../crypto/stream-opener";
import { admitTenantRequest, type DataDeps } from "./data-admission";
import { asBuffer, StreamSession, type ByteSource } from "./stream-session";
import type { TenantOperation } from "./types";

export interface DecryptStreamInput {
  input: ByteSource;
  context?: EncryptionContext;
  purpose?: string;
}

/** Admits the request and returns the plaintext stream; the header, DEK and frames are read as it is consumed. */
export async function decryptStream({ ctx, actor: caller, tenant: slug, requestId, input, context, purpose }: TenantOperation<DataDeps> & DecryptStreamInput): Promise<Readable> {
  const admitted = await admitTenantRequest(ctx, caller, slug, "decrypt", requestId, purpose);
  const session = new StreamSession(ctx, admitted, "decrypt", requestId, purpose);
  const { tenant, actor } = admitted;

  async function* opened(): AsyncGenerator<Buffer> {
    let opener: StreamOpener | null = null;
    let head: Buffer | null = Buffer.alloc(0);
    let done = false;
    try {
      for await (const chunk of input) {
        let buf = asBuffer(chunk);
        if (head) {
          head = Buffer.concat([head, buf]);
          if (head.length < 1) continue;
          const headerBytes = streamHeaderLength(head[0]!);
          if (head.length < headerBytes) continue;
          opener = await start(head.subarray(0, headerBytes));
          buf = head.subarray(headerBytes);
          head = null;
        }
        if (opener!.keyLost) opener!.rekey(await session.reacquire());
        const plain = opener!.update(buf);
        session.frames = opener!.frames;
        for (const p of plain) {
          session.bytes += p.length;
          yield p;
        }
      }
      if (!opener) throw new StreamFrameError("truncated", "stream ends inside its header");
      const last = opener.final();
      for (const p of last) session.bytes += p.length;
      await session.succeed();
      done = true;
      yield* last;
    } catch (e) {
      done = true;
      throw await session.fail(e);
    } finally {
      opener?.destroy();
      if (!done) await session.abandon();
    }
  }

  /** Reads the header, checks it names this tenant, admits its class, looks up its DEK and records the opening. */
  async function start(headerBytes: Buffer): Promise<StreamOpener> {
    const header = parseStreamHeader(headerBytes);
    if (header.tenantId !== tenant.id) throw new StreamFrameError("bad_header", "stream belongs to another tenant");
    session.dekId = header.dekId;
    const dataClass = await session.admitClass({ header });
    const material = await session.dataKey(() => ctx.keys.forDecrypt(tenant, header.dekId, { actor, requestId }, dataClass.id));
    const opener = new StreamOpener(material, header, context);
    await session.open();
    return opener;
  }

  return Readable.from(opened(), { objectMode: false });
}
