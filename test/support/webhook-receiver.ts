import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: any;
}

/** A local HTTP server that records every POST; `status` sets what it answers (e.g. 503 to play a webhook that is down). */
export async function startWebhookReceiver(): Promise<{ url: string; requests: ReceivedRequest[]; status: { code: number }; stop(): Promise<void> }> {
  const requests: ReceivedRequest[] = [];
  const status = { code: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined });
      res.writeHead(status.code).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    status,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
