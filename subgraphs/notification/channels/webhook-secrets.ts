import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError, type WebhookSecretKey } from '../../../platform/config.js';
import type { Logger } from '../../../platform/logging.js';

/**
 * Webhook signing secrets, encrypted at rest. The event log is replicated, backed up, replayed by
 * tooling and read by projections, so a secret never goes into it in clear: `WebhookRegistered`
 * (and the snapshots of the seller's stream) hold a `SealedWebhookSecret`, AES-256-GCM under a key
 * from WEBHOOK_SECRET_KEYS, and the secret is opened only where a delivery is signed.
 *
 * The additional authenticated data binds a ciphertext to its webhook (`AAD_LABEL` + webhook id):
 * copied onto another webhook it does not open. The key id travels with the ciphertext, so a key
 * rotation (a new key first in WEBHOOK_SECRET_KEYS, the old ones after it) still opens what the
 * old keys sealed.
 */
export interface SealedWebhookSecret {
  /** Format version of this record. */
  v: 1;
  alg: 'A256GCM';
  /** Which key of WEBHOOK_SECRET_KEYS sealed it. */
  keyId: string;
  /** base64url: a random 96-bit nonce. */
  iv: string;
  /** base64url. */
  ciphertext: string;
  /** base64url: the 128-bit GCM tag. */
  tag: string;
}

/**
 * A secret registered before secrets were encrypted: `WebhookRegistered` then carried it in clear.
 * Such events are read as they are (history is not rewritten); the secret stays in the log.
 */
export interface LegacyPlainWebhookSecret {
  v: 0;
  plain: string;
}

/** What the seller's stream state holds for a webhook's secret: never decrypted there. */
export type StoredWebhookSecret = SealedWebhookSecret | LegacyPlainWebhookSecret;

/** Bound into every ciphertext with the webhook id (a ciphertext of another purpose or webhook does not open). */
export const AAD_LABEL = 'storefront webhook secret v1:';

/** The key id of the development default (WEBHOOK_SECRET_KEYS unset outside production). */
export const DEVELOPMENT_KEY_ID = 'dev';

/**
 * The development key: derived from a fixed label, so the same on every machine and every restart
 * (webhooks registered in development keep working). Public by construction: never for production,
 * which refuses to start without WEBHOOK_SECRET_KEYS and refuses this key in it.
 */
export const DEVELOPMENT_KEY: WebhookSecretKey = { id: DEVELOPMENT_KEY_ID, key: createHash('sha256').update('storefront development webhook secret key (not secret)').digest() };

export const WEBHOOK_SECRET_UNREADABLE = 'WEBHOOK_SECRET_UNREADABLE';

/** A stored secret that the configured keys cannot open: its key is not configured, or the key under its id is another one, or the record was altered. */
export class WebhookSecretUnreadableError extends Error {
  readonly code = WEBHOOK_SECRET_UNREADABLE;
  constructor(
    readonly webhookId: string,
    readonly keyId: string,
    readonly reason: 'UNKNOWN_KEY' | 'NOT_AUTHENTIC' | 'MALFORMED',
  ) {
    super(
      `${WEBHOOK_SECRET_UNREADABLE}: the signing secret of webhook ${webhookId} cannot be decrypted: ${
        reason === 'UNKNOWN_KEY'
          ? `its key "${keyId}" is not configured (WEBHOOK_SECRET_KEYS)`
          : reason === 'NOT_AUTHENTIC'
            ? `the key configured as "${keyId}" does not open it (another key under that id, or the record was altered)`
            : 'the stored record is malformed'
      }`,
    );
    this.name = 'WebhookSecretUnreadableError';
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const aad = (webhookId: string) => Buffer.from(AAD_LABEL + webhookId, 'utf8');

/** Seals and opens webhook secrets with the configured keys: the first seals, any opens what it sealed. */
export class WebhookSecretBox {
  private readonly keys: ReadonlyMap<string, Uint8Array>;
  private readonly current: WebhookSecretKey;

  constructor(keys: readonly WebhookSecretKey[]) {
    const [first] = keys;
    if (!first) throw new ConfigError('invalid configuration: WEBHOOK_SECRET_KEYS: at least one key is needed');
    for (const { id, key } of keys) if (key.length !== 32) throw new ConfigError(`invalid configuration: WEBHOOK_SECRET_KEYS: key "${id}" must be 32 bytes`);
    this.current = first;
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The development box (tests, benches): the fixed development key, no warning. */
  static development(): WebhookSecretBox {
    return new WebhookSecretBox([DEVELOPMENT_KEY]);
  }

  /** The key id new secrets are sealed with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  seal(webhookId: string, secret: string): SealedWebhookSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(webhookId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return { v: 1, alg: 'A256GCM', keyId: this.current.id, iv: b64(iv), ciphertext: b64(ciphertext), tag: b64(cipher.getAuthTag()) };
  }

  /** The secret in clear, for signing: a legacy plain one as it is; a sealed one decrypted (WebhookSecretUnreadableError when it cannot be). */
  reveal(webhookId: string, stored: StoredWebhookSecret): string {
    if (stored.v === 0) return stored.plain;
    return this.open(webhookId, stored);
  }

  open(webhookId: string, sealed: SealedWebhookSecret): string {
    if (sealed.v !== 1 || sealed.alg !== 'A256GCM') throw new WebhookSecretUnreadableError(webhookId, String(sealed.keyId), 'MALFORMED');
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new WebhookSecretUnreadableError(webhookId, sealed.keyId, 'UNKNOWN_KEY');
    const iv = Buffer.from(sealed.iv, 'base64url');
    const tag = Buffer.from(sealed.tag, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new WebhookSecretUnreadableError(webhookId, sealed.keyId, 'MALFORMED');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(webhookId));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // GCM says only "unable to authenticate data": the key, the AAD or the bytes are not the sealed ones.
      throw new WebhookSecretUnreadableError(webhookId, sealed.keyId, 'NOT_AUTHENTIC');
    }
  }
}

/** Where the keys come from: Config.notificationChannels.webhooks (platform/config.ts). */
export interface WebhookSecretSettings {
  /** WEBHOOK_SECRET_KEYS, parsed; undefined when unset. */
  secretKeys: readonly WebhookSecretKey[] | undefined;
  /** Production: WEBHOOK_SECRET_KEYS is required, and the development key is refused in it. */
  requireSecretKeys: boolean;
}

/**
 * The box from configuration, at start-up. Production refuses to start without WEBHOOK_SECRET_KEYS
 * (or with the public development key in it); development and tests use the development key and
 * say so loudly, once (this is called once per process, by the notification subgraph's start).
 */
export function webhookSecretBox(settings: WebhookSecretSettings, logger: Logger): WebhookSecretBox {
  if (settings.secretKeys && settings.secretKeys.length > 0) {
    const box = new WebhookSecretBox(settings.secretKeys);
    if (settings.requireSecretKeys && settings.secretKeys.some((k) => Buffer.from(k.key).equals(DEVELOPMENT_KEY.key))) {
      throw new ConfigError('invalid configuration: WEBHOOK_SECRET_KEYS: the development key is public and refused in production');
    }
    return box;
  }
  if (settings.requireSecretKeys) throw new ConfigError('WEBHOOK_SECRET_KEYS is required in production: <keyId>:<base64 of 32 random bytes>[,<older keyId>:<base64>…] (e.g. k1:$(openssl rand -base64 32))');
  logger.warn(`!!! DEVELOPMENT WEBHOOK KEY: WEBHOOK_SECRET_KEYS is not set, so webhook signing secrets are encrypted with the public development key "${DEVELOPMENT_KEY_ID}". Never run like this in production. !!!`);
  return WebhookSecretBox.development();
}
