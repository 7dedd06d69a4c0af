import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER } from '../platform/auth/internal-identity.js';
import { SubgraphClient } from './subgraph-client.js';
import { SubgraphDataSource, type FetchContext } from './subgraph-data-source.js';

describe('SubgraphDataSource: the planned path sends fetches over the SubgraphClient', () => {
  let server: Server;
  let base: string;
  const seen: { path: string; identity: string | undefined; body: unknown }[] = [];
  beforeAll(async () => {
    // A subgraph stand-in: what it answers depends on the path.
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', identity: req.headers[IDENTITY_HEADER] as string | undefined, body: JSON.parse(text) });
        if (req.url === '/ok') {
          res.writeHead(200, { 'content-type': 'application/graphql-response+json; charset=utf-8' });
          res.end(JSON.stringify({ data: { a: 1 }, extensions: { readModels: { catalog: 7 } } }));
        } else if (req.url === '/forbidden') {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: 'no' }] }));
        } else {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html>a proxy page</html>');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const fetchWith = (source: SubgraphDataSource, context: FetchContext, query = 'query { a }') =>
    source.process({ kind: 'incoming operation', request: { query, variables: { x: 1 }, operationName: 'Op' }, context } as unknown as GraphQLDataSourceProcessOptions<FetchContext>);

  it('sends the operation with the signed identity only, and notes the read models the answer came from', async () => {
    const client = new SubgraphClient();
    const context: FetchContext = { internalToken: 'signed', readModels: { catalog: 9 } };
    const response = await fetchWith(new SubgraphDataSource(`${base}/ok`, client, true), context);
    expect(response.data).toEqual({ a: 1 });
    expect(seen.at(-1)).toEqual({ path: '/ok', identity: 'signed', body: { query: 'query { a }', variables: { x: 1 }, operationName: 'Op' } });
    expect(context.readModels).toEqual({ catalog: 7 }); // the lowest position seen
    await fetchWith(new SubgraphDataSource(`${base}/ok`, client, true), {});
    expect(seen.at(-1)!.identity).toBeUndefined();
    client.close();
  });

  it('turns a non-2xx answer into a coded GraphQLError and a non-JSON answer into an error', async () => {
    const client = new SubgraphClient();
    const refused = await fetchWith(new SubgraphDataSource(`${base}/forbidden`, client, false), {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).message).toBe('403: Forbidden');
    expect((refused as GraphQLError).extensions).toMatchObject({ code: 'FORBIDDEN', response: { status: 403, body: { errors: [{ message: 'no' }] } } });
    await expect(fetchWith(new SubgraphDataSource(`${base}/html`, client, false), {})).rejects.toThrow(/Expected JSON response body/);
    client.close();
  });
});
