import { resolve } from 'node:path';
import { defaultLogFormat, type LogFormat } from './logging.js';
import { z } from 'zod';
import type { ResumeOptions } from './subscriptions/resume.js';
import type { SubscriptionLimits } from './subscriptions/limits.js';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
/** An optional string where empty means unset. */
const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

/** The notification channels' defaults (subgraphs/notification/channels): the embedded e-mail folder and the webhook backoff. */
export const DEFAULT_MAIL_FROM = 'Storefront <no-reply@storefront.local>';
export const DEFAULT_MAIL_DIR = '.run/mail';
export const DEFAULT_WEBHOOK_RETRY = { maxAttempts: 8, baseDelayMs: 60_000, maxDelayMs: 6 * 3600_000 } as const;

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: port(4000),
  PRODUCT_PORT: port(4001),
  ORDER_PORT: port(4002),
  USER_PORT: port(4003),
  RECOMMENDATION_PORT: port(4004),
  NOTIFICATION_PORT: port(4005),
  PROJECTOR_PORT: port(4010),
  DATA_DIR: z.string().default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  SEED_DEMO_DATA: z.enum(['true', 'false']).default('true'),
  EVENTSTORE_FSYNC: z.enum(['true', 'false']).default('true'),
  PRODUCT_SUBGRAPH_URL: optionalUrl,
  ORDER_SUBGRAPH_URL: optionalUrl,
  USER_SUBGRAPH_URL: optionalUrl,
  RECOMMENDATION_SUBGRAPH_URL: optionalUrl,
  NOTIFICATION_SUBGRAPH_URL: optionalUrl,
  PUBLIC_URL: z.string().trim().url().default('http://localhost:4000'),
  NOTIFICATION_DISPATCH: z.enum(['true', 'false']).default('true'),
  SMTP_URL: optionalUrl.refine((v) => v === undefined || /^smtps?:\/\/[^/]+/.test(v), 'smtp://[user:pass@]host:port or smtps://…'),
  SMTP_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  SMTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100).default(5),
  MAIL_FROM: optionalUrl,
  MAIL_DIR: optionalUrl,
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false', '']).optional(),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(DEFAULT_WEBHOOK_RETRY.maxAttempts),
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().min(0.001).default(DEFAULT_WEBHOOK_RETRY.baseDelayMs / 1000),
  WEBHOOK_RETRY_MAX_SECONDS: z.coerce.number().min(0.001).default(DEFAULT_WEBHOOK_RETRY.maxDelayMs / 1000),
  WEBHOOK_SECRET_KEYS: optionalUrl,
  RECOMMENDATION_TRENDING_HALF_LIFE_HOURS: z.coerce.number().positive().max(24 * 365).default(24),
  JWT_SECRET: optionalUrl.refine((v) => v === undefined || v.length >= 32, 'at least 32 characters'),
  INTERNAL_SECRET: optionalUrl.refine((v) => v === undefined || v.length >= 32, 'at least 32 characters'),
  JWT_ISSUER: z.string().default('storefront'),
  JWT_AUDIENCE: z.string().default('storefront-api'),
  JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400 * 30).default(3600),
  PASSWORD_HASH_COST: z.coerce.number().int().min(10).max(20).default(15),
  ADMIN_EMAIL: optionalUrl,
  ADMIN_PASSWORD: optionalUrl,
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE: z.coerce.number().int().min(1).default(5),
  LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  MAX_QUERY_DEPTH: z.coerce.number().int().min(2).default(12),
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(30),
  MAX_QUERY_COST: z.coerce.number().int().min(1).default(20_000),
  MAX_QUERY_FIELDS: z.coerce.number().int().min(10).default(500),
  MAX_QUERY_TOKENS: z.coerce.number().int().min(100).default(5000),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(100_000),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  WS_SEND_TIMEOUT_SECONDS: z.coerce.number().min(0.1).default(10),
  SUBSCRIPTION_RESUME_RETENTION_SECONDS: z.coerce.number().min(0.001).default(86_400),
  SUBSCRIPTION_RESUME_MAX_EVENTS: z.coerce.number().int().min(1).default(100_000),
  SUBSCRIPTION_BUFFER_EVENTS: z.coerce.number().int().min(1).default(500),
  SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(50),
  SUBSCRIPTIONS_PER_IDENTITY: z.coerce.number().int().min(1).default(200),
  SUBSCRIPTIONS_TOTAL: z.coerce.number().int().min(1).default(20_000),
  WS_CONNECTION_INIT_TIMEOUT_SECONDS: z.coerce.number().min(0.1).default(3),
  WS_KEEPALIVE_SECONDS: z.coerce.number().min(0.1).default(12),
  CORS_ORIGINS: optionalUrl,
  ADMIN_TOKEN: optionalUrl,
  ORDER_PENDING_TIMEOUT_SECONDS: z.coerce.number().min(1).default(120),
  ORDER_PAYMENT_TIMEOUT_SECONDS: z.coerce.number().min(1).default(1800),
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().min(1).default(15),
  DOCUMENTS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  PROJECTION_MAX_LAG_SECONDS: z.coerce.number().min(0.1).default(10),
  PROJECTION_STALL_SECONDS: z.coerce.number().min(1).default(30),
  PROJECTION_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  READ_AFTER_POSITION_MAX_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  PROJECTION_LEASE_TTL_MS: z.coerce.number().int().min(300).default(5000),
  PROJECTION_LEASE_RENEW_MS: z.coerce.number().int().min(50).default(1000),
  GATEWAY_COALESCE_READS: z.enum(['true', 'false']).default('true'),
  GATEWAY_RESPONSE_CACHE: z.enum(['true', 'false', '']).optional(),
  GATEWAY_RESPONSE_CACHE_MB: z.coerce.number().min(1).default(64),
  NAMESPACE: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, _ and -').default('storefront'),
  EVENTSTORE_URL: optionalUrl,
  MONGODB_URL: optionalUrl,
  REDIS_URL: optionalUrl,
  KAFKA_BROKERS: optionalUrl,
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(1000),
});

export interface Config {
  production: boolean;
  host: string;
  ports: { gateway: number; product: number; order: number; user: number; recommendation: number; notification: number; projector: number };
  dataDir: string;
  logLevel: string;
  /** `pretty` (human-readable lines) or `json` (one object per line); unset: pretty on a terminal in development, else JSON. */
  logFormat: LogFormat;
  seedDemoData: boolean;
  eventStoreFsync: boolean;
  /** Bearer token for admin endpoints (projection rebuild); required for them in production. */
  adminToken: string | undefined;
  /** Where the gateway finds subgraphs when they run as separate processes. */
  subgraphUrls: { product: string | undefined; order: string | undefined; user: string | undefined; recommendation: string | undefined; notification: string | undefined };
  /** Where users reach the storefront (PUBLIC_URL): links in e-mails (unsubscribe) point there. */
  publicUrl: string;
  /**
   * Whether this process's notification subgraph sends e-mails and webhooks (NOTIFICATION_DISPATCH,
   * default true). false: it raises notifications and serves the inbox, but leaves deliveries to
   * other processes (a process rebuilding read models, a test replaying a log, must send nothing).
   */
  notificationDispatch: boolean;
  /** The notification subgraph's delivery channels (README, Notifications). */
  notificationChannels: NotificationChannelsConfig;
  /**
   * Trending scores halve every `trendingHalfLifeHours` (RECOMMENDATION_TRENDING_HALF_LIFE_HOURS,
   * default 24). The trending read model is built with it: after a change, rebuild it
   * (`npm run replay -- recommendation-trending`).
   */
  recommendations: { trendingHalfLifeHours: number };
  auth: {
    /** Unset: production refuses to start; development uses a generated key kept in DATA_DIR. */
    jwtSecret: string | undefined;
    internalSecret: string | undefined;
    issuer: string;
    audience: string;
    ttlSeconds: number;
    passwordHashCost: number;
    admin: { email: string; password: string } | undefined;
    loginAttemptsPerEmail: number;
    loginAttemptsPerAddress: number;
  };
  limits: {
    requestsPerMinute: number;
    maxDepth: number;
    maxAliases: number;
    maxCost: number;
    /** Field selections with fragments expanded (counted, never expanded). */
    maxFields: number;
    maxTokens: number;
    maxBodyBytes: number;
    /** A WebSocket that completes no send for wsSendTimeoutMs (or holds more than wsMaxBufferedBytes unsent while stalled) is closed. */
    wsMaxBufferedBytes: number;
    wsSendTimeoutMs: number;
  };
  /**
   * Subscriptions (README, Subscriptions): how far back a cursor resumes (`resume`, read by the
   * product and order subgraphs), and the gateway's bounds: each subscriber's buffer (events),
   * subscriptions per connection, per identity (per address when anonymous) and in total, the time
   * a socket has to send connection_init and the keep-alive ping interval (a socket that does not
   * answer a ping by the next one is closed).
   */
  subscriptions: SubscriptionLimits & { resume: ResumeOptions };
  /** How long an order may stay PENDING (stock being reserved) or CONFIRMED (unpaid) before it expires. */
  orderTimeouts: { pendingSeconds: number; paymentSeconds: number };
  /** How long a SIGTERM may take before the process exits anyway. */
  shutdownTimeoutSeconds: number;
  /** Every document-store operation fails after this long instead of hanging. */
  documentsTimeoutMs: number;
  projections: {
    /** Readiness turns 503 (naming the projection) when a read model is further behind than this. */
    maxLagSeconds: number;
    /** A projection making no progress for this long while events wait is restarted (and reported). */
    stallSeconds: number;
    /** Attempts at an event that keeps failing before the projection's poison policy applies. */
    maxAttempts: number;
    /**
     * Read-your-writes: how long a query sent with `x-read-after-position` waits for the read
     * models it reads to reach the position before failing with READ_MODEL_BEHIND.
     */
    readAfterMaxWaitMs: number;
  };
  /**
   * Projection leases (projections/lease.ts): a lease lasts `ttlMs` unrenewed, its holder renews
   * (and a standby looks) every `renewMs`; a standby takes over at most `ttlMs + 2 * renewMs`
   * after the holder dies.
   */
  projectionLease: { ttlMs: number; renewMs: number };
  /** Origins allowed by CORS; ['*'] for any. */
  corsOrigins: string[];
  /** Identical subgraph reads in flight at the gateway share one request (off: every read is sent). */
  coalesceReads: boolean;
  /**
   * The gateway's event-invalidated response cache (GATEWAY_RESPONSE_CACHE): `on` by default,
   * where the gateway can hear the projector's invalidations (the same process, or Redis pub/sub);
   * `true` requires that, `false` turns it off. `maxBytes` bounds what it holds.
   */
  responseCache: { enabled: 'default' | 'required' | 'off'; maxBytes: number };
  /** Prefix for Redis keys and channels (so systems and test runs can share a server). */
  namespace: string;
  /** Unset means the embedded adapter. */
  servers: { eventStore?: string; mongodb?: string; redis?: string; kafka?: string };
  /**
   * Kafka consumer group membership. A crashed process stays a member for the session timeout,
   * so its saga consumers resume at most this long after a crash (the API does not wait).
   */
  kafkaMembership: { sessionTimeoutMs: number; heartbeatIntervalMs: number };
}

/**
 * The notification channels' settings. Unset SMTP_URL means the embedded default: e-mails are
 * written as .eml files into MAIL_DIR.
 */
export interface NotificationChannelsConfig {
  /** SMTP_URL, MAIL_FROM, MAIL_DIR, SMTP_TIMEOUT_MS (connection, greeting and socket), SMTP_MAX_CONNECTIONS (pooled). */
  email: { smtpUrl: string | undefined; from: string; mailDir: string; timeoutMs: number; maxConnections: number };
  webhooks: {
    /** Development only (WEBHOOK_ALLOW_PRIVATE): webhooks to loopback and private addresses, over plain http. Never in production. */
    allowPrivate: boolean;
    requireHttps: boolean;
    /** One POST, connect to answer (WEBHOOK_TIMEOUT_MS). */
    timeoutMs: number;
    /** WEBHOOK_MAX_ATTEMPTS; WEBHOOK_RETRY_BASE_SECONDS and WEBHOOK_RETRY_MAX_SECONDS, the backoff. */
    retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
    /**
     * WEBHOOK_SECRET_KEYS: the keys that encrypt the webhooks' signing secrets in the event log, the
     * first one sealing new ones, every one opening (rotation). Unset: undefined, and then
     * production refuses to start while development uses a fixed development key
     * (subgraphs/notification/channels/webhook-secrets.ts, like JWT_SECRET in platform/auth/secrets.ts).
     */
    secretKeys: WebhookSecretKey[] | undefined;
    /** Production: WEBHOOK_SECRET_KEYS is required. */
    requireSecretKeys: boolean;
  };
}

/** One AES-256 key of WEBHOOK_SECRET_KEYS: its id (recorded beside each ciphertext) and its 32 bytes. */
export interface WebhookSecretKey {
  id: string;
  key: Uint8Array;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

/**
 * Parses WEBHOOK_SECRET_KEYS: `<keyId>:<base64 of 32 bytes>` separated by commas, the first the one
 * that encrypts, the others only decrypt (old keys kept during a rotation). Key ids: letters,
 * digits, `_`, `.`, `-`, at most 64, distinct. Throws ConfigError naming the variable (never the key).
 */
export function parseWebhookSecretKeys(raw: string): WebhookSecretKey[] {
  const fail = (why: string): never => {
    throw new ConfigError(`invalid configuration: WEBHOOK_SECRET_KEYS: ${why} (expected <keyId>:<base64 of 32 random bytes>[,<keyId>:<base64>…])`);
  };
  const keys = raw.split(',').map((entry, index) => {
    const item = entry.trim();
    const colon = item.indexOf(':');
    if (colon < 0) return fail(`entry ${index + 1} has no "<keyId>:"`);
    const id = item.slice(0, colon).trim();
    const encoded = item.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) return fail(`entry ${index + 1}: the key id must be 1 to 64 letters, digits, "_", "." or "-"`);
    if (!BASE64.test(encoded)) return fail(`key "${id}" is not base64`);
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (key.length !== 32) return fail(`key "${id}" is ${key.length} bytes, not 32`);
    return { id, key: new Uint8Array(key) };
  });
  const seen = new Set<string>();
  for (const { id } of keys) {
    if (seen.has(id)) fail(`key id "${id}" appears twice`);
    seen.add(id);
  }
  return keys;
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
  if (e.PROJECTION_LEASE_TTL_MS <= 2 * e.PROJECTION_LEASE_RENEW_MS) {
    throw new ConfigError('invalid configuration: PROJECTION_LEASE_RENEW_MS: must be below half of PROJECTION_LEASE_TTL_MS (a fifth of it is usual)');
  }
  if (e.KAFKA_HEARTBEAT_INTERVAL_MS >= e.KAFKA_SESSION_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration: KAFKA_HEARTBEAT_INTERVAL_MS: must be below KAFKA_SESSION_TIMEOUT_MS (a third of it or less is usual)');
  }
  const production = e.NODE_ENV === 'production';
  if (production && e.WEBHOOK_ALLOW_PRIVATE === 'true') throw new ConfigError('invalid configuration: WEBHOOK_ALLOW_PRIVATE=true is refused in production (webhooks must not reach internal addresses)');
  const allowPrivateWebhooks = e.WEBHOOK_ALLOW_PRIVATE ? e.WEBHOOK_ALLOW_PRIVATE === 'true' : !production;
  // Malformed keys are refused everywhere; missing ones only in production (where the notification subgraph starts).
  const webhookSecretKeys = e.WEBHOOK_SECRET_KEYS === undefined ? undefined : parseWebhookSecretKeys(e.WEBHOOK_SECRET_KEYS);
  if (e.WEBHOOK_RETRY_MAX_SECONDS < e.WEBHOOK_RETRY_BASE_SECONDS) throw new ConfigError('invalid configuration: WEBHOOK_RETRY_MAX_SECONDS must be at least WEBHOOK_RETRY_BASE_SECONDS');
  return {
    production,
    host: e.HOST,
    ports: { gateway: e.PORT, product: e.PRODUCT_PORT, order: e.ORDER_PORT, user: e.USER_PORT, recommendation: e.RECOMMENDATION_PORT, notification: e.NOTIFICATION_PORT, projector: e.PROJECTOR_PORT },
    dataDir: resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? defaultLogFormat(e.NODE_ENV === 'production', process.stdout.isTTY),
    seedDemoData: e.SEED_DEMO_DATA === 'true',
    eventStoreFsync: e.EVENTSTORE_FSYNC === 'true',
    adminToken: e.ADMIN_TOKEN,
    namespace: e.NAMESPACE,
    subgraphUrls: { product: e.PRODUCT_SUBGRAPH_URL, order: e.ORDER_SUBGRAPH_URL, user: e.USER_SUBGRAPH_URL, recommendation: e.RECOMMENDATION_SUBGRAPH_URL, notification: e.NOTIFICATION_SUBGRAPH_URL },
    publicUrl: e.PUBLIC_URL,
    notificationDispatch: e.NOTIFICATION_DISPATCH === 'true',
    notificationChannels: {
      email: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM ?? DEFAULT_MAIL_FROM, mailDir: e.MAIL_DIR ?? DEFAULT_MAIL_DIR, timeoutMs: e.SMTP_TIMEOUT_MS, maxConnections: e.SMTP_MAX_CONNECTIONS },
      webhooks: {
        allowPrivate: allowPrivateWebhooks,
        requireHttps: !allowPrivateWebhooks,
        timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        retry: { maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, baseDelayMs: Math.round(e.WEBHOOK_RETRY_BASE_SECONDS * 1000), maxDelayMs: Math.round(e.WEBHOOK_RETRY_MAX_SECONDS * 1000) },
        secretKeys: webhookSecretKeys,
        requireSecretKeys: production,
      },
    },
    recommendations: { trendingHalfLifeHours: e.RECOMMENDATION_TRENDING_HALF_LIFE_HOURS },
    auth: {
      jwtSecret: e.JWT_SECRET,
      internalSecret: e.INTERNAL_SECRET,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      ttlSeconds: e.JWT_TTL_SECONDS,
      passwordHashCost: e.PASSWORD_HASH_COST,
      admin: e.ADMIN_EMAIL && e.ADMIN_PASSWORD ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD } : undefined,
      loginAttemptsPerEmail: e.LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE,
      loginAttemptsPerAddress: e.LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE,
    },
    limits: {
      requestsPerMinute: e.RATE_LIMIT_PER_MINUTE,
      maxDepth: e.MAX_QUERY_DEPTH,
      maxAliases: e.MAX_QUERY_ALIASES,
      maxCost: e.MAX_QUERY_COST,
      maxFields: e.MAX_QUERY_FIELDS,
      maxTokens: e.MAX_QUERY_TOKENS,
      maxBodyBytes: e.MAX_BODY_BYTES,
      wsMaxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      wsSendTimeoutMs: Math.round(e.WS_SEND_TIMEOUT_SECONDS * 1000),
    },
    subscriptions: {
      resume: { retentionSeconds: e.SUBSCRIPTION_RESUME_RETENTION_SECONDS, maxScannedEvents: e.SUBSCRIPTION_RESUME_MAX_EVENTS },
      bufferEvents: e.SUBSCRIPTION_BUFFER_EVENTS,
      perConnection: e.SUBSCRIPTIONS_PER_CONNECTION,
      perIdentity: e.SUBSCRIPTIONS_PER_IDENTITY,
      total: e.SUBSCRIPTIONS_TOTAL,
      connectionInitTimeoutMs: Math.round(e.WS_CONNECTION_INIT_TIMEOUT_SECONDS * 1000),
      keepAliveMs: Math.round(e.WS_KEEPALIVE_SECONDS * 1000),
    },
    orderTimeouts: { pendingSeconds: e.ORDER_PENDING_TIMEOUT_SECONDS, paymentSeconds: e.ORDER_PAYMENT_TIMEOUT_SECONDS },
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    documentsTimeoutMs: e.DOCUMENTS_TIMEOUT_MS,
    projections: { maxLagSeconds: e.PROJECTION_MAX_LAG_SECONDS, stallSeconds: e.PROJECTION_STALL_SECONDS, maxAttempts: e.PROJECTION_MAX_ATTEMPTS, readAfterMaxWaitMs: e.READ_AFTER_POSITION_MAX_WAIT_MS },
    projectionLease: { ttlMs: e.PROJECTION_LEASE_TTL_MS, renewMs: e.PROJECTION_LEASE_RENEW_MS },
    coalesceReads: e.GATEWAY_COALESCE_READS === 'true',
    responseCache: { enabled: e.GATEWAY_RESPONSE_CACHE === 'false' ? 'off' : e.GATEWAY_RESPONSE_CACHE === 'true' ? 'required' : 'default', maxBytes: Math.round(e.GATEWAY_RESPONSE_CACHE_MB * 1024 * 1024) },
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean) : e.NODE_ENV === 'production' ? [] : ['*'],
    servers: {
      ...(e.EVENTSTORE_URL && { eventStore: e.EVENTSTORE_URL }),
      ...(e.MONGODB_URL && { mongodb: e.MONGODB_URL }),
      ...(e.REDIS_URL && { redis: e.REDIS_URL }),
      ...(e.KAFKA_BROKERS && { kafka: e.KAFKA_BROKERS }),
    },
    kafkaMembership: { sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS, heartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL_MS },
  };
}
