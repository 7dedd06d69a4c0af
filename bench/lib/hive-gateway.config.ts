/**
 * Hive Gateway (`@graphql-hive/gateway`, its CLI) as a baseline for bench/peers.bench.ts, given to
 * it with `hive-gateway supergraph <file> -c <this file>`. Defaults except two settings:
 *  - the identity header the bench's load sends (`x-storefront-identity`, signed by the bench as
 *    the project's gateway would sign it) is passed to the subgraphs, so authenticated workloads
 *    run through it too (Hive Gateway verifies no token here; the project's gateway verifies a
 *    JWT and signs the header itself, which costs it more);
 *  - HIVE_DEDUPLICATE=false turns off its in-flight request deduplication (on by default), to
 *    compare gateways, not caches.
 */
import { defineConfig } from '@graphql-hive/gateway';

const IDENTITY_HEADER = 'x-storefront-identity';

export const gatewayConfig = defineConfig({
  logging: 'error',
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const identity = request.headers.get(IDENTITY_HEADER);
      return identity ? { [IDENTITY_HEADER]: identity } : {};
    },
  },
  transportEntries: {
    '*.http': { options: { deduplicateInflightRequests: process.env.HIVE_DEDUPLICATE !== 'false' } },
  },
});
