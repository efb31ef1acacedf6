// Starts an emulator's HTTP(S) server and keeps its sockets, so close() can end black-holed
// and delayed requests at once instead of waiting for them.
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export async function listenTracked(server: Server, port: number, host: string): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { port: (server.address() as AddressInfo).port, sockets };
}
