import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { connect, type Socket } from 'node:net';

/** What the proxy saw. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export type Fault =
  /** Answer with this status and body instead of forwarding. */
  | { readonly status: number; readonly body?: string }
  /** Read part of the request body, then reset the connection (mid-part). */
  | { readonly reset: true }
  /** Accept the request and never answer (the client's timeout must fire). */
  | { readonly stall: true }
  /** Forward only once `until` settles, reading nothing of the request before (a busy server). */
  | { readonly hold: Promise<void> }
  /** Forward, then rewrite the response headers. */
  | { readonly rewriteResponse: (headers: IncomingHttpHeaders) => IncomingHttpHeaders }
  /**
   * Forward the request (the server applies it), then lose the answer: the server's response is
   * read in full and the client's connection is cut without a byte of it. The client cannot tell
   * this from a request that never arrived; its retry meets the new state.
   */
  | { readonly loseResponse: true }
  /**
   * Read the whole request and answer nothing; forward it to the server (which applies it) only
   * once `until` settles — after the client gave up on it (SIGTERM, its deadline). What a real
   * server does with a request it received whose client has gone: S3 keeps processing it. The
   * answer goes to the client if it is still there.
   */
  | { readonly applyLate: Promise<void>; readonly onApplied?: () => void };

/**
 * An `applyLate` fault and its two ends: `release()` lets the held request reach the server (once
 * the run under test has ended), `applied` resolves when the server has answered it.
 */
export function lateApplication(): { readonly fault: Fault; release(): void; readonly applied: Promise<void> } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let onApplied!: () => void;
  const applied = new Promise<void>((resolve) => (onApplied = resolve));
  return { fault: { applyLate: released, onApplied }, release, applied };
}

export interface FaultRule {
  readonly match: (request: SeenRequest) => boolean;
  readonly fault: Fault;
  /** How many matching requests get the fault (default: every one). */
  times?: number;
  /** Called when a request gets the fault (before it is applied). */
  readonly onMatch?: (request: SeenRequest) => void;
}

/**
 * A small HTTP proxy for fault injection, standing between a client and a real server on
 * 127.0.0.1. As a reverse proxy it forwards to `target`; as a forward proxy (HTTP_PROXY) it
 * forwards to the absolute URL it is asked for. Rules inject 5xx, resets, stalls or tampering.
 */
export class FaultProxy {
  readonly requests: SeenRequest[] = [];
  readonly #rules: FaultRule[] = [];
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #target: string | undefined;

  readonly #scheme: 'http' | 'https';

  private constructor(target: string | undefined, tls: { key: string; cert: string } | undefined) {
    this.#target = target;
    this.#scheme = tls ? 'https' : 'http';
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.#handle(req, res);
    this.#server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.#server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    // HTTPS through a forward proxy: CONNECT host:port, then a raw tunnel.
    this.#server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
      this.requests.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host!, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      this.#sockets.add(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  }

  /** A proxy forwarding to `target` (or, as a forward proxy, wherever it is asked); `tls` makes it an HTTPS endpoint. */
  static async start(target?: string, tls?: { key: string; cert: string }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, tls);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `${this.#scheme}://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  /** The same endpoint by host name (what a certificate for "localhost" matches). */
  get localhostUrl(): string {
    return this.url.replace('127.0.0.1', 'localhost');
  }

  inject(rule: FaultRule): this {
    this.#rules.push(rule);
    return this;
  }

  /** Removes every rule: requests are forwarded untouched from now on. */
  clear(): this {
    this.#rules.length = 0;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const seen = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    this.requests.push(seen);
    const rule = this.#rules.find((candidate) => (candidate.times ?? Infinity) > 0 && candidate.match(seen));
    if (rule && rule.times !== undefined) rule.times--;
    const fault = rule?.fault;
    rule?.onMatch?.(seen);

    if (fault && 'status' in fault) {
      req.resume();
      req.on('end', () => res.writeHead(fault.status, { 'content-type': 'application/xml' }).end(fault.body ?? ''));
      return;
    }
    if (fault && 'reset' in fault) {
      req.once('data', () => req.socket.destroy());
      req.once('end', () => req.socket.destroy());
      return;
    }
    if (fault && 'stall' in fault) {
      req.resume();
      return;
    }
    if (fault && 'applyLate' in fault) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('end', () => {
        const forward = () => this.#forwardBuffered(seen, Buffer.concat(chunks), res, fault.onApplied);
        fault.applyLate.then(forward, forward);
      });
      return;
    }
    if (fault && 'hold' in fault) {
      req.pause();
      const forward = () => this.#forward(seen, req, res, undefined);
      fault.hold.then(forward, forward);
      return;
    }
    this.#forward(seen, req, res, fault);
  }

  #forward(seen: SeenRequest, req: http.IncomingMessage, res: http.ServerResponse, fault: Fault | undefined): void {
    const destination = /^https?:\/\//.test(seen.url) ? new URL(seen.url) : new URL(seen.url, this.#target);
    const upstream = http.request(destination, { method: seen.method, headers: req.headers }, (answer) => {
      if (fault && 'loseResponse' in fault) {
        answer.resume();
        answer.once('end', () => req.socket.destroy());
        return;
      }
      const headers = fault && 'rewriteResponse' in fault ? fault.rewriteResponse({ ...answer.headers }) : answer.headers;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  /** Sends a request already read in full; its answer to the client if the client still listens. */
  #forwardBuffered(seen: SeenRequest, body: Buffer, res: http.ServerResponse, onApplied?: () => void): void {
    const destination = /^https?:\/\//.test(seen.url) ? new URL(seen.url) : new URL(seen.url, this.#target);
    const upstream = http.request(destination, { method: seen.method, headers: seen.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.once('end', () => {
        onApplied?.();
        if (res.destroyed || res.socket?.destroyed) return;
        res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(chunks));
      });
    });
    upstream.on('error', () => {
      onApplied?.();
      res.destroy();
    });
    upstream.end(body);
  }
}

/** An S3-style XML error body. */
export function s3ErrorBody(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
}
