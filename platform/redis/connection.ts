import { Redis } from 'ioredis';
import { InfrastructureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { redactUrl } from '../redact.js';

/**
 * A Redis connection that reconnects forever with capped backoff and fails commands fast while
 * disconnected (no offline queue), so callers see the outage instead of hanging.
 */
export function createRedis(url: string, logger: Logger, role: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    // A server that accepts a command but never answers fails it instead of hanging the caller.
    commandTimeout: 5000,
    retryStrategy: (attempt) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6)),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (!down) logger.warn({ err: error, role, url: redactUrl(url) }, 'redis connection error; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ role }, 'redis connection restored');
    down = false;
  });
  return redis;
}

/** Connects once at start-up; a server that cannot be reached fails start-up with one line. */
export async function connectRedis(redis: Redis, url: string, dependency: string): Promise<void> {
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
    ]);
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new InfrastructureError(dependency, redactUrl(url), `cannot connect (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}
