import { createHash } from 'node:crypto';
import { loadConfig, type Config } from '../config.js';

/**
 * WEBHOOK_SECRET_KEYS for a test system in production mode (where it is required): one key derived
 * from `seed` (its data directory), so a restart on the same directory opens what it sealed before.
 */
export function testWebhookSecretKeys(seed: string): string {
  return `test:${createHash('sha256').update(`storefront test webhook secret key ${seed}`).digest('base64')}`;
}

/**
 * The configuration of a whole system started inside a test: every port chosen by the operating
 * system, no demo data, no fsync, cheap password hashing, silent logs, on `dataDir`; `overrides`
 * set anything else (servers, limits, production mode; production gets WEBHOOK_SECRET_KEYS from
 * `testWebhookSecretKeys` unless they set it).
 */
export function testSystemConfig(dataDir: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    PRODUCT_PORT: '0',
    ORDER_PORT: '0',
    USER_PORT: '0',
    RECOMMENDATION_PORT: '0',
    NOTIFICATION_PORT: '0',
    PROJECTOR_PORT: '0',
    LOG_LEVEL: 'silent',
    SEED_DEMO_DATA: 'false',
    EVENTSTORE_FSYNC: 'false',
    PASSWORD_HASH_COST: '10',
    ...(overrides.NODE_ENV === 'production' && { WEBHOOK_SECRET_KEYS: testWebhookSecretKeys(dataDir) }),
    ...overrides,
  });
}
