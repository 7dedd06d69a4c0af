import { describe, expect, it } from 'vitest';
import { loadChannelConfig } from './config.js';

describe('channel configuration', () => {
  it('defaults to the embedded channels: .eml files in .run/mail, private webhooks allowed in development', () => {
    expect(loadChannelConfig({})).toEqual({
      email: { smtpUrl: undefined, from: 'Storefront <no-reply@storefront.local>', mailDir: '.run/mail', timeoutMs: 10_000, maxConnections: 5 },
      webhooks: { allowPrivate: true, requireHttps: false, timeoutMs: 5000, retry: { maxAttempts: 8, baseDelayMs: 60_000, maxDelayMs: 21_600_000 } },
    });
  });

  it('reads SMTP and webhook settings, and production refuses private webhooks', () => {
    const config = loadChannelConfig({ NODE_ENV: 'production', SMTP_URL: 'smtps://u:p@mail.example.com:465', MAIL_FROM: 'Shop <shop@example.com>', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_RETRY_BASE_SECONDS: '0.5', WEBHOOK_RETRY_MAX_SECONDS: '10' });
    expect(config.email).toMatchObject({ smtpUrl: 'smtps://u:p@mail.example.com:465', from: 'Shop <shop@example.com>' });
    expect(config.webhooks).toEqual({ allowPrivate: false, requireHttps: true, timeoutMs: 5000, retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 10_000 } });
    expect(() => loadChannelConfig({ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE: 'true' })).toThrow(/refused in production/);
    expect(() => loadChannelConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL/);
    expect(() => loadChannelConfig({ WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/WEBHOOK_MAX_ATTEMPTS/);
    expect(loadChannelConfig({ WEBHOOK_ALLOW_PRIVATE: 'false' }).webhooks.allowPrivate).toBe(false);
  });
});
