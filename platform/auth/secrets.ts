import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../logging.js';
import type { TokenSettings } from './tokens.js';

export interface AuthKeys {
  tokens: TokenSettings;
  /** Signs the identity the gateway passes to subgraphs. */
  internalSecret: Uint8Array;
}

/**
 * The signing keys, from configuration. Production refuses to start without JWT_SECRET; the
 * embedded development default generates one, keeps it in DATA_DIR (so tokens survive a
 * restart) and says so loudly.
 */
export function authKeys(config: Config, logger: Logger): AuthKeys {
  let secret = config.auth.jwtSecret;
  if (!secret) {
    if (config.production) throw new ConfigError('JWT_SECRET is required in production (at least 32 random characters)');
    const file = join(config.dataDir, 'dev-jwt-secret');
    if (existsSync(file)) {
      secret = readFileSync(file, 'utf8').trim();
    } else {
      secret = randomBytes(32).toString('base64url');
      mkdirSync(config.dataDir, { recursive: true });
      writeFileSync(file, secret, { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    logger.warn(`!!! DEVELOPMENT SIGNING KEY: JWT_SECRET is not set, so tokens are signed with a generated key kept in ${file}. Never run like this in production. !!!`);
  }
  return {
    tokens: { secret: new TextEncoder().encode(secret), issuer: config.auth.issuer, audience: config.auth.audience, ttlSeconds: config.auth.ttlSeconds },
    internalSecret: config.auth.internalSecret ? new TextEncoder().encode(config.auth.internalSecret) : internalSecretFor(secret),
  };
}

/** The internal identity key when INTERNAL_SECRET is not set: derived from JWT_SECRET. */
export function internalSecretFor(jwtSecret: string): Uint8Array {
  return new TextEncoder().encode(createHmac('sha256', jwtSecret).update('storefront internal identity').digest('base64url'));
}
