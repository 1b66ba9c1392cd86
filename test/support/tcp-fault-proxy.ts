import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL), for faults below HTTP: after
 * `resetAfterBytes` bytes from the server it resets both connections — a network drop mid-stream.
 */
export class TcpFaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;
  /** Bytes relayed from the server, all connections together. */
  relayed = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }, resetAfterBytes: number): Promise<TcpFaultProxy> {
    const proxy: TcpFaultProxy = new TcpFaultProxy(
      createServer((client) => {
        const upstream = createConnection(target);
        proxy.#sockets.add(client).add(upstream);
        let fromServer = 0;
        client.on('data', (chunk) => upstream.write(chunk));
        upstream.on('data', (chunk: Buffer) => {
          fromServer += chunk.length;
          proxy.relayed += chunk.length;
          if (fromServer > resetAfterBytes) {
            client.resetAndDestroy();
            upstream.resetAndDestroy();
            return;
          }
          client.write(chunk);
        });
        for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
          a.on('error', () => b.destroy());
          a.on('close', () => b.destroy());
        }
      }),
    );
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
