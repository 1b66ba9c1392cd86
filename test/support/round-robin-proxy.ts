import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer on 127.0.0.1 that sends each new connection to the next of its targets in
 * turn — what a round-robin Service or cloud "reader endpoint" in front of several replicas does.
 */
export class RoundRobinProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targets: readonly { host: string; port: number }[]): Promise<RoundRobinProxy> {
    let next = 0;
    const proxy: RoundRobinProxy = new RoundRobinProxy(
      createServer((client) => {
        const upstream = createConnection(targets[next++ % targets.length]!);
        proxy.#sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
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
