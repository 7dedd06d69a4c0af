import { loadConfig, type Config } from '../config.js';

/**
 * The configuration of a whole system started inside a test: every port chosen by the operating
 * system, no demo data, no fsync, cheap password hashing, silent logs, on `dataDir`; `overrides`
 * set anything else (servers, limits, production mode).
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
    ...overrides,
  });
}
