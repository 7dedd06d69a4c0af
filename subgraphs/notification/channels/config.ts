import { z } from 'zod';
import { ConfigError } from '../../../platform/config.js';
import { DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM, type EmailConfig } from './email.js';
import { DEFAULT_RETRY_POLICY, type WebhookRetryPolicy } from './webhooks.js';

/**
 * The delivery channels' settings, read from the environment by the composition root (meant to be
 * merged into platform/config.ts's schema; kept here so the channels stand alone). Unset SMTP_URL
 * means the embedded default: e-mails are written as .eml files into MAIL_DIR.
 */
export interface ChannelConfig {
  email: EmailConfig & { mailDir: string; from: string };
  webhooks: {
    /** Development only: webhooks to loopback and private addresses, over plain http. Never in production. */
    allowPrivate: boolean;
    requireHttps: boolean;
    timeoutMs: number;
    retry: WebhookRetryPolicy;
  };
}

const optional = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  SMTP_URL: optional.refine((v) => v === undefined || /^smtps?:\/\/[^/]+/.test(v), 'smtp://[user:pass@]host:port or smtps://…'),
  SMTP_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  SMTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100).default(5),
  MAIL_FROM: optional,
  MAIL_DIR: optional,
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false', '']).optional(),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(DEFAULT_RETRY_POLICY.maxAttempts),
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().min(0.001).default(DEFAULT_RETRY_POLICY.baseDelayMs / 1000),
  WEBHOOK_RETRY_MAX_SECONDS: z.coerce.number().min(0.001).default(DEFAULT_RETRY_POLICY.maxDelayMs / 1000),
});

export function loadChannelConfig(env: NodeJS.ProcessEnv = process.env): ChannelConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && e.WEBHOOK_ALLOW_PRIVATE === 'true') throw new ConfigError('invalid configuration: WEBHOOK_ALLOW_PRIVATE=true is refused in production (webhooks must not reach internal addresses)');
  const allowPrivate = e.WEBHOOK_ALLOW_PRIVATE ? e.WEBHOOK_ALLOW_PRIVATE === 'true' : !production;
  if (e.WEBHOOK_RETRY_MAX_SECONDS < e.WEBHOOK_RETRY_BASE_SECONDS) throw new ConfigError('invalid configuration: WEBHOOK_RETRY_MAX_SECONDS must be at least WEBHOOK_RETRY_BASE_SECONDS');
  return {
    email: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM ?? DEFAULT_MAIL_FROM, mailDir: e.MAIL_DIR ?? DEFAULT_MAIL_DIR, timeoutMs: e.SMTP_TIMEOUT_MS, maxConnections: e.SMTP_MAX_CONNECTIONS },
    webhooks: {
      allowPrivate,
      requireHttps: !allowPrivate,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retry: { maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, baseDelayMs: Math.round(e.WEBHOOK_RETRY_BASE_SECONDS * 1000), maxDelayMs: Math.round(e.WEBHOOK_RETRY_MAX_SECONDS * 1000) },
    },
  };
}
