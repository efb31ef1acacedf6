// One mutual-TLS connection to a KMIP server, carrying one request at a time (KMIP 1.x has no
// request ids across messages, so answers are matched by order), and a small pool of them per
// endpoint and client identity. Every wait is bounded: connect + handshake, and each answer.
// Frames are read by their TTLV header and capped, so a server cannot make us buffer without end.
import tls from "node:tls";
import { ttlvFrameLength, type TtlvError } from "./ttlv";

export interface KmipTlsIdentity {
  /** Client certificate chain (PEM) and its private key (PEM). */
  certPem: string;
  keyPem: string;
  /** The CA that issued the server's certificate (PEM): the only trust anchor used. */
  caPem: string;
}

export interface KmipEndpoint extends KmipTlsIdentity {
  host: string;
  port: number;
}

/** The server could not be reached, or the TLS session failed; `code` says how. */
export class KmipTransportError extends Error {
  override readonly name = "KmipTransportError";
  constructor(
    readonly code: string,
    message: string,
    /** OpenSSL's reason when the TLS layer failed, e.g. "SSL alert number 48" or ERR_SSL_TLSV1_ALERT_UNKNOWN_CA. */
    readonly tlsCode?: string,
  ) {
    super(message);
  }
}

/** Largest response frame accepted (the Maximum Response Size we ask for, plus headroom). */
export const MAX_FRAME_BYTES = 1 << 20;

export class KmipConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private failure: Error | null = null;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", (e: Error) => this.fail(transportError(e)));
    socket.on("close", () => this.fail(new KmipTransportError("ECONNRESET", "the KMIP server closed the connection")));
  }

  get usable(): boolean {
    return !this.failure && !this.socket.destroyed;
  }

  static open(ep: KmipEndpoint, timeoutMs: number): Promise<KmipConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: ep.host,
        port: ep.port,
        cert: ep.certPem,
        key: ep.keyPem,
        ca: [ep.caPem],
        // SNI only for names; the server certificate is checked against the host either way.
        servername: isIp(ep.host) ? undefined : ep.host,
        minVersion: "TLSv1.2",
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KmipTransportError("handshake_timeout", `no TLS session with ${ep.host}:${ep.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(transportError(e));
      };
      socket.once("error", onError);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new KmipConnection(socket));
      });
    });
  }

  /** Sends one request message and resolves with the raw response frame. */
  request(message: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error("KmipConnection: one request at a time"));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new KmipTransportError("ETIMEDOUT", `no KMIP answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = { resolve, reject, timer };
      this.socket.write(message);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** An idle pooled connection must not keep the process alive. */
  setIdle(idle: boolean): void {
    if (idle) this.socket.unref();
    else this.socket.ref();
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    if (!this.waiter) {
      // Bytes nobody asked for: the stream is out of step, so this connection is done.
      this.fail(new KmipTransportError("unexpected_data", "the KMIP server sent data without a request"));
      return;
    }
    if (this.buffered < 8) return;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [all];
    let size: number;
    try {
      size = ttlvFrameLength(all.subarray(0, 8));
    } catch (e) {
      this.fail(new KmipTransportError("malformed_frame", `the KMIP server sent a malformed frame: ${(e as TtlvError).message}`));
      return;
    }
    if (size > MAX_FRAME_BYTES) {
      this.fail(new KmipTransportError("frame_too_large", `the KMIP server announced a ${size}-byte answer (limit ${MAX_FRAME_BYTES})`));
      return;
    }
    if (all.length < size) return;
    if (all.length > size) {
      this.fail(new KmipTransportError("unexpected_data", "the KMIP server sent more than one answer"));
      return;
    }
    const w = this.waiter;
    this.waiter = null;
    this.chunks = [];
    this.buffered = 0;
    clearTimeout(w.timer);
    w.resolve(all);
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = null;
    if (w) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

function transportError(e: Error & { code?: string }): KmipTransportError {
  if (e instanceof KmipTransportError) return e;
  const code = e.code ?? "tls_error";
  const tls = code.startsWith("ERR_SSL") || /alert|certificate|handshake|SSL/i.test(e.message) ? code : undefined;
  return new KmipTransportError(code, e.message, tls);
}

/** Idle connections per endpoint + identity, reused for the next request. */
export class KmipConnectionPool {
  private readonly idle = new Map<string, KmipConnection[]>();

  constructor(private readonly maxIdlePerEndpoint = 4) {}

  async use<T>(poolKey: string, ep: KmipEndpoint, connectTimeoutMs: number, fn: (c: KmipConnection) => Promise<T>): Promise<T> {
    const list = this.idle.get(poolKey) ?? [];
    let conn: KmipConnection | undefined;
    while ((conn = list.pop()) && !conn.usable) conn.close();
    conn ??= await KmipConnection.open(ep, connectTimeoutMs);
    conn.setIdle(false);
    try {
      const result = await fn(conn);
      if (conn.usable && list.length < this.maxIdlePerEndpoint) {
        conn.setIdle(true);
        list.push(conn);
        this.idle.set(poolKey, list);
      } else conn.close();
      return result;
    } catch (e) {
      // After a failed exchange the stream position is unknown: never reuse it.
      conn.close();
      throw e;
    }
  }

  /** Drops every idle connection of one endpoint (its credentials changed) or all of them. */
  clear(poolKey?: string): void {
    for (const [k, list] of this.idle) {
      if (poolKey && k !== poolKey) continue;
      for (const c of list) c.close();
      this.idle.delete(k);
    }
  }
}
