// POST /api/v1/tenants/{slug}/encrypt/stream: seals a byte stream of any length into the framed
// stream format (lib/crypto/stream-frames.ts) under the current DEK of the request's data class
// (`dataClass`, default `default`; a class's stream names it in its header), in constant
// memory: one frame is read, sealed and handed on at a time, and the next is read only when the
// consumer has taken it (backpressure end to end). The stream's opening is audited before its
// header is returned, its end (bytes, frames) before its final frame. Input that fails or stops
// short never gets a final frame, so a decryptor detects the truncation.
import { Readable } from "node:stream";
import type { EncryptionContext } from "../../crypto/canonical-context";
import { newStreamHeader, StreamSealer } from "../../crypto/stream-frames";
import { admitDataRequest, type DataDeps } from "./data-admission";
import { asBuffer, StreamSession, type ByteSource } from "./stream-session";
import type { TenantOperation } from "./types";

export interface EncryptStreamInput {
  input: ByteSource;
  context?: EncryptionContext;
  purpose?: string;
  /** Plaintext bytes per frame (the format's default, 64 KiB, unless set). */
  frameBytes?: number;
  /** The data class to encrypt for (undefined: `default`). */
  dataClass?: string;
}

/** Resolves, once the DEK is in hand and the opening is durable, to the sealed stream. */
export async function encryptStream({ ctx, actor: caller, tenant: slug, requestId, input, context, purpose, frameBytes, dataClass: className }: TenantOperation<DataDeps> & EncryptStreamInput): Promise<Readable> {
  const admitted = await admitDataRequest(ctx, caller, slug, "encrypt", requestId, purpose, { name: className });
  const { tenant, actor, dataClass } = admitted;
  const session = new StreamSession(ctx, admitted, "encrypt", requestId, purpose, dataClass);
  const material = await session.dataKey(() => ctx.keys.forEncrypt(tenant, { actor, requestId }, dataClass));
  const sealer = new StreamSealer(material, newStreamHeader({ tenantId: tenant.id, dekId: session.dekId!, classId: dataClass.id }, frameBytes), context);
  try {
    await session.open();
  } catch (e) {
    sealer.destroy();
    throw e;
  }
  async function* sealed(): AsyncGenerator<Buffer> {
    let done = false;
    try {
      for await (const chunk of input) {
        if (sealer.keyLost) sealer.rekey(await session.reacquire());
        const buf = asBuffer(chunk);
        session.bytes += buf.length;
        const frames = sealer.update(buf);
        session.frames = sealer.frames;
        yield* frames;
      }
      if (sealer.keyLost) sealer.rekey(await session.reacquire());
      const last = sealer.final();
      session.frames = sealer.frames;
      await session.succeed();
      done = true;
      yield* last;
    } catch (e) {
      done = true;
      throw await session.fail(e);
    } finally {
      sealer.destroy();
      if (!done) await session.abandon();
    }
  }
  return Readable.from(sealed(), { objectMode: false });
}
