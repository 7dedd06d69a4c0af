import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a test receiver got: the raw body, byte for byte, as a receiver must verify it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver for tests: a plain node:http server on loopback, outside the system under
 * test. `answer` decides each response (status, or `'hang'` to never answer); every request is
 * recorded.
 */
export class TestReceiver {
  readonly received: ReceivedRequest[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(answer: (request: ReceivedRequest, index: number) => number | 'hang' | { status: number; headers: Record<string, string> }, host = '127.0.0.1'): Promise<TestReceiver> {
    const self: { receiver?: TestReceiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        self.receiver!.received.push(request);
        const reply = answer(request, self.receiver!.received.length - 1);
        if (reply === 'hang') {
          self.receiver!.hanging.add(res);
          return;
        }
        const { status, headers } = typeof reply === 'number' ? { status: reply, headers: {} } : reply;
        res.writeHead(status, headers).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    self.receiver = new TestReceiver(server, (server.address() as AddressInfo).port);
    return self.receiver;
  }

  url(path = '/hook', host = '127.0.0.1'): string {
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}${path}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
