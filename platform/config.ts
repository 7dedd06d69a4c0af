import { resolve } from 'node:path';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: port(4000),
  PRODUCT_PORT: port(4001),
  PROJECTOR_PORT: port(4010),
  DATA_DIR: z.string().default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SEED_DEMO_DATA: z.enum(['true', 'false']).default('true'),
  EVENTSTORE_FSYNC: z.enum(['true', 'false']).default('true'),
  PRODUCT_SUBGRAPH_URL: optionalUrl,
  ADMIN_TOKEN: optionalUrl,
  NAMESPACE: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, _ and -').default('storefront'),
  EVENTSTORE_URL: optionalUrl,
  MONGODB_URL: optionalUrl,
  REDIS_URL: optionalUrl,
  KAFKA_BROKERS: optionalUrl,
});

export interface Config {
  production: boolean;
  host: string;
  ports: { gateway: number; product: number; projector: number };
  dataDir: string;
  logLevel: string;
  seedDemoData: boolean;
  eventStoreFsync: boolean;
  /** Bearer token for admin endpoints (projection rebuild); required for them in production. */
  adminToken: string | undefined;
  /** Where the gateway finds subgraphs when they run as separate processes. */
  subgraphUrls: { product: string | undefined };
  /** Prefix for Redis keys and channels (so systems and test runs can share a server). */
  namespace: string;
  /** Unset means the embedded adapter. */
  servers: { eventStore?: string; mongodb?: string; redis?: string; kafka?: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The one place that reads the environment; fails fast with every problem listed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  return {
    production: e.NODE_ENV === 'production',
    host: e.HOST,
    ports: { gateway: e.PORT, product: e.PRODUCT_PORT, projector: e.PROJECTOR_PORT },
    dataDir: resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    seedDemoData: e.SEED_DEMO_DATA === 'true',
    eventStoreFsync: e.EVENTSTORE_FSYNC === 'true',
    adminToken: e.ADMIN_TOKEN,
    namespace: e.NAMESPACE,
    subgraphUrls: { product: e.PRODUCT_SUBGRAPH_URL },
    servers: {
      ...(e.EVENTSTORE_URL && { eventStore: e.EVENTSTORE_URL }),
      ...(e.MONGODB_URL && { mongodb: e.MONGODB_URL }),
      ...(e.REDIS_URL && { redis: e.REDIS_URL }),
      ...(e.KAFKA_BROKERS && { kafka: e.KAFKA_BROKERS }),
    },
  };
}
