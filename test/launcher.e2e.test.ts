import { describe, expect, it } from 'vitest';
import { graphql } from '../platform/testing/graphql-client.js';
import { startSystemProcess } from '../platform/testing/system-process.js';

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

  it('fails fast with one clear line when a configured server adapter is not available', async () => {
    const error = await startSystemProcess({ REDIS_URL: 'redis://127.0.0.1:1' }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    const output = (error as Error).message.split('start-up:\n')[1] ?? '';
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/^storefront: .*redis/i);
  });
});
