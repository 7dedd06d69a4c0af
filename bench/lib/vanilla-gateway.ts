/**
 * The baseline gateway for bench/peers.bench.ts: vanilla `@apollo/gateway` + `@apollo/server`, as
 * their documentation sets them up (IntrospectAndCompose over the subgraphs, the default
 * RemoteGraphQLDataSource), served over node:http with `executeHTTPGraphQLRequest` (Apollo
 * Server 5 has no built-in HTTP server). Nothing of this project's gateway is used. One addition:
 * the identity header the bench's load sends (`x-storefront-identity`, signed by the bench as the
 * project's gateway would sign it) is passed to the subgraphs, so authenticated workloads run
 * through it too (it verifies nothing; the project's gateway verifies a JWT and signs the header).
 * Env: PORT, SUBGRAPHS (JSON: [{ "name", "url" }]).
 */
import { createServer } from 'node:http';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';

const IDENTITY_HEADER = 'x-storefront-identity';
interface Context {
  identity: string | undefined;
}
const subgraphs = JSON.parse(process.env.SUBGRAPHS ?? '[]') as { name: string; url: string }[];
process.env.APOLLO_TELEMETRY_DISABLED = 'true';
class IdentityPassingDataSource extends RemoteGraphQLDataSource<Context> {
  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<Context>['willSendRequest']>>[0]) {
    const identity: unknown = context.identity;
    if (typeof identity === 'string') request.http?.headers.set(IDENTITY_HEADER, identity);
  }
}
const gateway = new ApolloGateway({ supergraphSdl: new IntrospectAndCompose({ subgraphs }), buildService: ({ url }) => new IdentityPassingDataSource({ url }) });
const server = new ApolloServer<Context>({ gateway });
await server.start();
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(key, value);
      const text = Buffer.concat(chunks).toString('utf8');
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'POST', headers, search: new URL(req.url ?? '/', 'http://localhost').search, body: text ? (JSON.parse(text) as unknown) : undefined },
        context: () => Promise.resolve({ identity: headers.get(IDENTITY_HEADER) }),
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') res.end(response.body.string);
      else {
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      }
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
