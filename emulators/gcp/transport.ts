// gRPC transport of the Cloud KMS emulator: plaintext HTTP/2 on a TCP listener the emulator
// owns (so a "reset" fault can destroy the exact socket a call arrived on), every unary method
// going through the shared control plane (count, fault, latency) before authentication and the
// handler. The control plane itself is served on a separate plain-HTTP port (gRPC cannot share it).
import http from "node:http";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { ControlPlane } from "../control";
import { closeTracked, listenOn, listenTracked, type ListenLabel } from "../http";
import { RpcError, S } from "./errors";
import { cryptoKeyOf } from "./names";
import { loadServices } from "./protos";
import type { GcpKmsService, Handler, Req } from "./service";

function toServiceError(e: unknown): Partial<grpc.ServiceError> {
  if (e instanceof RpcError) {
    const metadata = new grpc.Metadata();
    if (e.statusDetailsBin) metadata.set("grpc-status-details-bin", e.statusDetailsBin);
    return { code: e.code, details: e.message, metadata };
  }
  return { code: S.INTERNAL, details: `Internal error encountered: ${e instanceof Error ? e.message : String(e)}` };
}

// Must match grpc-js's server-side getPeer(): `${remoteAddress}:${remotePort}`, unbracketed even for IPv6.
function peerKey(sock: net.Socket): string {
  return `${sock.remoteAddress ?? ""}:${sock.remotePort ?? 0}`;
}

export interface GcpTransport {
  grpcPort: number;
  controlPort: number;
  close(): Promise<void>;
}

export async function startGcpTransport(
  service: GcpKmsService,
  handlers: { kms: Record<string, Handler>; iam: Record<string, Handler> },
  control: ControlPlane,
  listen: { host: string; port: number; controlPort: number; label: ListenLabel; controlLabel: ListenLabel },
): Promise<GcpTransport> {
  const sockets = new Map<string, net.Socket>();

  function unary(method: string, fn: Handler): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      void (async () => {
        const req = call.request ?? {};
        const action = await control.admit(method, cryptoKeyOf(req.name ?? req.parent ?? req.resource ?? (req.cryptoKeyVersion as Req | null)?.name ?? (req.cryptoKey as Req | null)?.name));
        switch (action) {
          case "closed":
            return;
          case "blackhole":
            // Never answer; close() force-shuts the server, which cancels the call.
            return;
          case "throttle":
            throw new RpcError(
              S.RESOURCE_EXHAUSTED,
              "Quota exceeded for quota metric 'Cryptographic requests' and limit 'Cryptographic requests per minute per region' of service 'cloudkms.googleapis.com'.",
            );
          case "server_error":
            throw Math.random() < 0.5
              ? new RpcError(S.UNAVAILABLE, "The service is currently unavailable.")
              : new RpcError(S.INTERNAL, "Internal error encountered.");
          case "reset": {
            // Drop the whole TCP connection, as a crashed frontend or middlebox would.
            const sock = sockets.get(call.getPeer());
            if (sock) {
              sock.destroy();
              return;
            }
            throw new RpcError(S.UNAVAILABLE, "Connection reset");
          }
          case "none":
            break;
        }
        const principal = service.authenticate(call.metadata);
        callback(null, fn(service, principal, req));
      })().catch((e: unknown) => {
        if (!control.closed) callback(toServiceError(e));
      });
    };
  }

  const services = loadServices();
  const server = new grpc.Server();
  const impl = (table: Record<string, Handler>) => Object.fromEntries(Object.entries(table).map(([m, fn]) => [m, unary(m, fn)]));
  server.addService(services.kms, impl(handlers.kms));
  server.addService(services.iam, impl(handlers.iam));

  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const tcp = net.createServer((sock) => {
    const peer = peerKey(sock);
    sockets.set(peer, sock);
    sock.on("close", () => sockets.delete(peer));
    injector.injectConnection(sock);
  });
  const grpcPort = await listenOn(tcp, listen.port, listen.host, listen.label);

  const controlServer = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://emulator").pathname;
    void control.handle(req, res, path);
  });
  let controlPort: number;
  let controlSockets: Set<net.Socket>;
  try {
    ({ port: controlPort, sockets: controlSockets } = await listenTracked(controlServer, listen.controlPort, listen.host, listen.controlLabel));
  } catch (e) {
    await new Promise<void>((r) => tcp.close(() => r()));
    throw e;
  }

  return {
    grpcPort,
    controlPort,
    async close() {
      injector.destroy();
      server.forceShutdown();
      for (const s of sockets.values()) s.destroy();
      await Promise.all([new Promise<void>((r) => tcp.close(() => r())), closeTracked(controlServer, controlSockets)]);
    },
  };
}
