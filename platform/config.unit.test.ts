import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './config.js';

describe('notification channel configuration', () => {
  it('defaults to the embedded channels: .eml files in .run/mail, private webhooks allowed in development', () => {
    expect(loadConfig({}).notificationChannels).toEqual({
      email: { smtpUrl: undefined, from: 'Storefront <no-reply@storefront.local>', mailDir: '.run/mail', timeoutMs: 10_000, maxConnections: 5 },
      webhooks: { allowPrivate: true, requireHttps: false, timeoutMs: 5000, retry: { maxAttempts: 8, baseDelayMs: 60_000, maxDelayMs: 21_600_000 }, secretKeys: undefined, requireSecretKeys: false },
    });
  });

  it('reads SMTP and webhook settings, and production refuses private webhooks', () => {
    const config = loadConfig({ NODE_ENV: 'production', SMTP_URL: 'smtps://u:p@mail.example.com:465', MAIL_FROM: 'Shop <shop@example.com>', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_RETRY_BASE_SECONDS: '0.5', WEBHOOK_RETRY_MAX_SECONDS: '10' }).notificationChannels;
    expect(config.email).toMatchObject({ smtpUrl: 'smtps://u:p@mail.example.com:465', from: 'Shop <shop@example.com>' });
    expect(config.webhooks).toEqual({ allowPrivate: false, requireHttps: true, timeoutMs: 5000, retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 10_000 }, secretKeys: undefined, requireSecretKeys: true });
    expect(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE: 'true' })).toThrow('invalid configuration: WEBHOOK_ALLOW_PRIVATE=true is refused in production (webhooks must not reach internal addresses)');
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow('invalid configuration: SMTP_URL: smtp://[user:pass@]host:port or smtps://…');
    expect(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/^invalid configuration: WEBHOOK_MAX_ATTEMPTS: /);
    expect(() => loadConfig({ WEBHOOK_RETRY_BASE_SECONDS: '10', WEBHOOK_RETRY_MAX_SECONDS: '5' })).toThrow('invalid configuration: WEBHOOK_RETRY_MAX_SECONDS must be at least WEBHOOK_RETRY_BASE_SECONDS');
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'false' }).notificationChannels.webhooks.allowPrivate).toBe(false);
  });

  it('reads WEBHOOK_SECRET_KEYS: the first key encrypts, the others only decrypt; base64 or base64url of 32 bytes', () => {
    const k2 = randomBytes(32);
    const k1 = randomBytes(32);
    const { secretKeys } = loadConfig({ WEBHOOK_SECRET_KEYS: ` k2:${k2.toString('base64')} , k1:${k1.toString('base64url')}` }).notificationChannels.webhooks;
    expect(secretKeys?.map((k) => ({ id: k.id, key: Buffer.from(k.key).toString('hex') }))).toEqual([
      { id: 'k2', key: k2.toString('hex') },
      { id: 'k1', key: k1.toString('hex') },
    ]);
    expect(loadConfig({ WEBHOOK_SECRET_KEYS: '' }).notificationChannels.webhooks.secretKeys).toBeUndefined(); // empty means unset
  });

  it('refuses a malformed WEBHOOK_SECRET_KEYS in every environment, without echoing the key', () => {
    const good = randomBytes(32).toString('base64');
    const cases: [string, RegExp][] = [
      [good, /entry 1 has no "<keyId>:"/],
      [`k1:${randomBytes(16).toString('base64')}`, /key "k1" is 16 bytes, not 32/],
      [`k1:${randomBytes(33).toString('base64')}`, /key "k1" is 33 bytes, not 32/],
      ['k1:not base64!!', /key "k1" is not base64/],
      [`k1:${good},k1:${randomBytes(32).toString('base64')}`, /key id "k1" appears twice/],
      [`bad id:${good}`, /entry 1: the key id must be/],
      [`:${good}`, /entry 1: the key id must be/],
      [`k1:${good},`, /entry 2 has no "<keyId>:"/],
    ];
    for (const [value, message] of cases) {
      for (const NODE_ENV of ['development', 'production'] as const) {
        let error: unknown;
        try {
          loadConfig({ NODE_ENV, WEBHOOK_SECRET_KEYS: value });
        } catch (e) {
          error = e;
        }
        expect(error, value).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toMatch(/^invalid configuration: WEBHOOK_SECRET_KEYS: /);
        expect((error as Error).message).toMatch(message);
        expect((error as Error).message).not.toContain(good);
      }
    }
  });

  it('lists a bad channel variable with the others', () => {
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com', PORT: 'x' })).toThrow(/PORT: .*; SMTP_URL: /);
  });
});
