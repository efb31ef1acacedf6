// HTTP helpers shared by the emulators' transports and control planes: bounded body reading,
// JSON answers, and listening with tracked sockets and a clear "port in use" error.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";

/** Reads the whole body; resolves null (and drains the rest) when it exceeds `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = "application/json",
): void {
  if (res.writableEnded || res.destroyed) return;
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** "127.0.0.1" stays, "::1" becomes "[::1]", for building URLs. */
export const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host);

/** Thrown when an emulator's port is taken; the message names the port and the variable to change. */
export class PortInUseError extends Error {
  constructor(
    readonly emulator: string,
    readonly host: string,
    readonly port: number,
    readonly envVar?: string,
  ) {
    super(
      `${emulator}: port ${port} on ${host} is already in use` +
        (envVar ? `; set ${envVar} to another port (0 picks a free one)` : "; pick another port (0 picks a free one)"),
    );
    this.name = "PortInUseError";
  }
}

export interface ListenLabel {
  /** Human name for errors, e.g. "AWS KMS emulator". */
  emulator: string;
  /** The variable that overrides this port, named in the port-in-use error. */
  envVar?: string;
}

/** Listens and resolves the bound port; EADDRINUSE becomes a PortInUseError. */
export async function listenOn(server: Server | NetServer, port: number, host: string, label: ListenLabel): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === "EADDRINUSE" ? new PortInUseError(label.emulator, host, port, label.envVar) : e);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Like listenOn, and keeps the server's sockets so close() can end black-holed and delayed requests at once. */
export async function listenTracked(
  server: Server,
  port: number,
  host: string,
  label: ListenLabel = { emulator: "KMS emulator" },
): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return { port: await listenOn(server, port, host, label), sockets };
}

/** Closes a tracked server: stops accepting, destroys every open socket, resolves when closed. */
export function closeTracked(server: Server, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of sockets) s.destroy();
  return closed;
}
