import { Agent, request } from 'node:http';
import { CORRELATION_HEADER, currentCorrelationId } from '../platform/correlation.js';

export interface SubgraphAnswer {
  status: number;
  contentType: string | undefined;
  body: string;
}

export interface PostOptions {
  timeoutMs?: number;
  /** A query (no mutation): may be sent again (see `send`) and may be shared (`coalesce`). */
  read?: boolean;
  /**
   * Share the answer of a read with identical reads in flight: same URL, same body (operation
   * and variables) and same headers (so the same signed identity: one caller's scope, never
   * another's). Never for a mutation, which sent twice must run twice.
   */
  coalesce?: boolean;
  /**
   * Shared only with requests of the same generation (the response cache's epoch): a read begun
   * after an invalidation must not be answered by one begun before it.
   */
  generation?: number;
}

/**
 * POSTs JSON to a subgraph over kept-alive connections and returns the raw answer. Plain
 * node:http with a keep-alive agent costs less per request than fetch on Node 20. Identical
 * reads in flight at once share one request (`coalesce`): under load, a hot query costs the
 * subgraph one execution per round trip instead of one per client.
 */
export class SubgraphClient {
  /**
   * Idle sockets close after 4 s, before a Node server's 5 s keep-alive timeout closes them under
   * a request (the pool hands out the most recently used socket first, so under uneven load some
   * sit idle for long).
   */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  private readonly inFlight = new Map<string, Promise<SubgraphAnswer>>();

  constructor(
    private readonly onCoalesced?: () => void,
    /** Told of every request sent (not of reads that shared one): its URL, whether an HTTP answer came, and how long it took. */
    private readonly onFetched?: (url: string, outcome: 'ok' | 'error', seconds: number) => void,
  ) {}

  post(url: string, body: string, headers: Record<string, string>, options: PostOptions = {}): Promise<SubgraphAnswer> {
    const read = options.read ?? false;
    if (!read || !options.coalesce) return this.send(url, body, headers, options.timeoutMs, read);
    const key = `${options.generation ?? ''}\n${url}\n${JSON.stringify(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]).sort())}\n${body}`;
    const shared = this.inFlight.get(key);
    if (shared) {
      this.onCoalesced?.();
      return shared;
    }
    const answer = this.send(url, body, headers, options.timeoutMs, true).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, answer);
    return answer;
  }

  /** Requests in flight that others may join (for tests and metrics). */
  get shareable(): number {
    return this.inFlight.size;
  }

  /**
   * A kept-alive socket the server closed just as it was reused fails with ECONNRESET before the
   * server read anything; a read is then sent once more on a new socket (`retry`). A mutation is
   * not: the error reaches the client rather than risk running it twice.
   */
  private send(url: string, body: string, headers: Record<string, string>, timeoutMs = 30_000, retry = false): Promise<SubgraphAnswer> {
    if (!this.onFetched) return this.exchange(url, body, headers, timeoutMs, retry);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    return this.exchange(url, body, headers, timeoutMs, retry).then(
      (answer) => {
        this.onFetched?.(url, 'ok', seconds());
        return answer;
      },
      (error: unknown) => {
        this.onFetched?.(url, 'error', seconds());
        throw error;
      },
    );
  }

  private exchange(url: string, body: string, headers: Record<string, string>, timeoutMs: number, retry: boolean): Promise<SubgraphAnswer> {
    return new Promise<SubgraphAnswer>((resolve, reject) => {
      // The request's correlation id goes along (not part of the coalescing key: a shared read carries the first caller's).
      const correlationId = currentCorrelationId();
      const sent = { 'content-type': 'application/json', ...headers, ...(correlationId && { [CORRELATION_HEADER]: correlationId }), 'content-length': Buffer.byteLength(body) };
      const req = request(url, { method: 'POST', agent: this.agent, headers: sent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (retry && req.reusedSocket && error.code === 'ECONNRESET') resolve(this.exchange(url, body, headers, timeoutMs, false));
        else reject(error);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Whether a GraphQL-over-HTTP request body carries a query (not a mutation or subscription). */
export function isQueryBody(body: string): boolean {
  const start = body.indexOf('"query"');
  if (start < 0) return false;
  const text = /^"query"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body.slice(start));
  if (!text) return false;
  const operation = /^(?:\s|,|#[^\n]*\n)*(\{|query\b|mutation\b|subscription\b)/.exec(JSON.parse(`"${text[1]}"`) as string);
  return operation?.[1] === '{' || operation?.[1] === 'query';
}
