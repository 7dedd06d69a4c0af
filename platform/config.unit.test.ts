import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('notification channel configuration', () => {
  it('defaults to the embedded channels: .eml files in .run/mail, private webhooks allowed in development', () => {
    expect(loadConfig({}).notificationChannels).toEqual({
      email: { smtpUrl: undefined, from: 'Storefront <no-reply@storefront.local>', mailDir: '.run/mail', timeoutMs: 10_000, maxConnections: 5 },
      webhooks: { allowPrivate: true, requireHttps: false, timeoutMs: 5000, retry: { maxAttempts: 8, baseDelayMs: 60_000, maxDelayMs: 21_600_000 } },
    });
  });

  it('reads SMTP and webhook settings, and production refuses private webhooks', () => {
    const config = loadConfig({ NODE_ENV: 'production', SMTP_URL: 'smtps://u:p@mail.example.com:465', MAIL_FROM: 'Shop <shop@example.com>', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_RETRY_BASE_SECONDS: '0.5', WEBHOOK_RETRY_MAX_SECONDS: '10' }).notificationChannels;
    expect(config.email).toMatchObject({ smtpUrl: 'smtps://u:p@mail.example.com:465', from: 'Shop <shop@example.com>' });
    expect(config.webhooks).toEqual({ allowPrivate: false, requireHttps: true, timeoutMs: 5000, retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 10_000 } });
    expect(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE: 'true' })).toThrow('invalid configuration: WEBHOOK_ALLOW_PRIVATE=true is refused in production (webhooks must not reach internal addresses)');
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow('invalid configuration: SMTP_URL: smtp://[user:pass@]host:port or smtps://…');
    expect(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/^invalid configuration: WEBHOOK_MAX_ATTEMPTS: /);
    expect(() => loadConfig({ WEBHOOK_RETRY_BASE_SECONDS: '10', WEBHOOK_RETRY_MAX_SECONDS: '5' })).toThrow('invalid configuration: WEBHOOK_RETRY_MAX_SECONDS must be at least WEBHOOK_RETRY_BASE_SECONDS');
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'false' }).notificationChannels.webhooks.allowPrivate).toBe(false);
  });

  it('lists a bad channel variable with the others', () => {
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com', PORT: 'x' })).toThrow(/PORT: .*; SMTP_URL: /);
  });
});
