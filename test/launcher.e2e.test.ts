import { describe, expect, it } from 'vitest';
import { graphql } from '../platform/testing/graphql-client.js';
import { startSystemProcess } from '../platform/testing/system-process.js';
import { DEMO_SELLER_ACCOUNT } from '../subgraphs/product/demo-seed.js';

describe('npm start launcher', () => {
  it('starts on the configured ports, seeds the demo catalog, and exits 0 on SIGTERM', async () => {
    const system = await startSystemProcess({ NODE_ENV: 'development' });
    try {
      const r = await graphql<{ products: { totalCount: number } }>(system.gatewayUrl, '{ products { totalCount } }');
      expect(r.data?.products.totalCount).toBeGreaterThan(0);
      const exited = new Promise<number | null>((resolve) => system.child.once('exit', (code) => resolve(code)));
      system.child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
      expect(code).toBe(0);
    } finally {
      await system.stop();
    }
  });

  it('in production, the demo catalog shows its seller (whose account exists) and nobody signs in with the demo password', async () => {
    const system = await startSystemProcess({ NODE_ENV: 'production' });
    try {
      const r = await graphql<{ products: { edges: { node: { seller: { name: string } } }[] } }>(system.gatewayUrl, '{ products(first: 5) { edges { node { name seller { id name } } } } }');
      expect(r.errors).toBeUndefined();
      expect(r.data?.products.edges.map((e) => e.node.seller.name)).toEqual(Array.from({ length: 5 }, () => DEMO_SELLER_ACCOUNT.name));
      const login = await graphql<{ login: { token: string | null; userErrors: { code: string }[] } }>(
        system.gatewayUrl,
        'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token userErrors { code } } }',
        { email: DEMO_SELLER_ACCOUNT.email, password: DEMO_SELLER_ACCOUNT.password },
      );
      expect(login.data?.login.token).toBeNull();
      expect(login.data?.login.userErrors.map((e) => e.code)).toEqual(['INVALID_CREDENTIALS']);
    } finally {
      await system.stop();
    }
  });

  const startupFailure = async (env: Record<string, string>) => {
    const error = await startSystemProcess(env).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    const output = ((error as Error).message.split('start-up:\n')[1] ?? '').trim();
    expect(output.split('\n')).toHaveLength(1); // one clear line, no stack dump
    return output;
  };

  it('fails fast with one line naming the server and its URL when a configured server cannot be reached', async () => {
    expect(await startupFailure({ REDIS_URL: 'redis://127.0.0.1:1' })).toMatch(/^storefront: redis at redis:\/\/127\.0\.0\.1:1\/?: cannot connect/);
    expect(await startupFailure({ MONGODB_URL: 'mongodb://127.0.0.1:1/storefront' })).toMatch(/^storefront: mongodb at mongodb:\/\/127\.0\.0\.1:1\/storefront: cannot connect/);
  });

  it('refuses to start in production without a signing key', async () => {
    expect(await startupFailure({ NODE_ENV: 'production', JWT_SECRET: '' })).toBe('storefront: JWT_SECRET is required in production (at least 32 random characters)');
  });

  it('refuses to start in production without the webhook secret keys, or with a malformed one', async () => {
    expect(await startupFailure({ NODE_ENV: 'production', WEBHOOK_SECRET_KEYS: '' })).toMatch(/^storefront: WEBHOOK_SECRET_KEYS is required in production: /);
    expect(await startupFailure({ NODE_ENV: 'production', WEBHOOK_SECRET_KEYS: 'k1:c2hvcnQ=' })).toBe(
      'storefront: invalid configuration: WEBHOOK_SECRET_KEYS: key "k1" is 5 bytes, not 32 (expected <keyId>:<base64 of 32 random bytes>[,<keyId>:<base64>…])',
    );
  });
});
