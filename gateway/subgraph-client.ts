import { Agent, request } from 'node:http';

/**
 * POSTs JSON to a subgraph over kept-alive connections and returns the raw answer. Plain
 * node:http with a keep-alive agent costs less per request than fetch on Node 20.
 */
export class SubgraphClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  post(url: string, body: string, headers: Record<string, string>, timeoutMs = 30_000): Promise<{ status: number; contentType: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
