import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Test tiers are named by file: *.unit.test.ts (pure, no I/O), *.int.test.ts (adapters and
// servers), *.e2e.test.ts (the whole system through the gateway).
export default defineConfig({
  // graphql 16 ships CJS and ESM builds; Node loads the CJS one for everybody, but Vite would hand
  // ESM importers the .mjs one, and two graphql realms reject each other's schemas. Pin one.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['**/*.unit.test.ts'] } },
      { extends: true, test: { name: 'int', include: ['**/*.int.test.ts'], testTimeout: 30_000 } },
      { extends: true, test: { name: 'e2e', include: ['**/*.e2e.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
    ],
    exclude: ['node_modules/**', 'dist/**', '.run/**'],
    // The storefront's bundle, built once before any test starts a system that serves it.
    globalSetup: ['storefront/vitest-setup.ts'],
    pool: 'forks',
  },
});
