import { describe, expect, it } from 'vitest';
import { isRefusedAddress } from './address-guard.js';
import { signWebhookBody, validateWebhookUrl, verifyWebhookSignature } from './webhook.js';

describe('webhook address guard', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456:789a::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::10.0.0.1',
    'ff02::1',
    'not-an-ip',
  ])('refuses %s', (ip) => {
    expect(isRefusedAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])('allows the public address %s', (ip) => {
    expect(isRefusedAddress(ip)).toBe(false);
  });
});

describe('webhook URL validation (registration)', () => {
  const production = { allowPrivate: false };
  it('accepts a public https URL and normalises it', () => {
    expect(validateWebhookUrl('https://Hooks.Example.com/storefront?x=1', production)).toBe('https://hooks.example.com/storefront?x=1');
  });

  it.each([
    ['http://hooks.example.com/x', /https/],
    ['ftp://hooks.example.com/x', /http or https/],
    ['https://127.0.0.1/x', /public address/],
    ['https://[::1]:8080/x', /public address/],
    ['https://169.254.169.254/latest/meta-data', /public address/],
    ['https://localhost/x', /public address/],
    ['https://intranet/x', /public address/],
    ['https://db.internal/x', /public address/],
    ['https://user:pass@hooks.example.com/x', /credentials/],
    ['not a url', /not a valid URL/],
    ['', /required/],
  ])('refuses %s in production', (url, message) => {
    expect(() => validateWebhookUrl(url, production)).toThrow(message);
    try {
      validateWebhookUrl(url, production);
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field: ['url'] });
    }
  });

  it('accepts loopback and plain http in development (allowPrivate)', () => {
    expect(validateWebhookUrl('http://127.0.0.1:9000/hook', { allowPrivate: true })).toBe('http://127.0.0.1:9000/hook');
    expect(validateWebhookUrl('http://localhost:9000/hook', { allowPrivate: true })).toBe('http://localhost:9000/hook');
    expect(() => validateWebhookUrl('http://localhost:9000/hook', { allowPrivate: true, requireHttps: true })).toThrow(/https/);
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test';
  const body = JSON.stringify({ id: 'n-1', kind: 'SOLD_OUT', occurredAt: '2026-12-01T10:00:00.000Z', data: { productId: 'p' } });
  const now = new Date('2026-12-02T03:00:00.000Z');
  const t = Math.floor(now.getTime() / 1000);

  it('verifies what it signed, within the tolerance', () => {
    const header = signWebhookBody(body, secret, t);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(body, header, secret, 300, now)).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), header, secret, 300, new Date(now.getTime() + 299_000))).toBe(true);
  });

  it('rejects a tampered body, another secret, an old or altered timestamp and junk', () => {
    const header = signWebhookBody(body, secret, t);
    expect(verifyWebhookSignature(body.replace('SOLD_OUT', 'STOCK_LOW'), header, secret, 300, now)).toBe(false);
    expect(verifyWebhookSignature(body, header, 'whsec_other', 300, now)).toBe(false);
    expect(verifyWebhookSignature(body, header, secret, 300, new Date(now.getTime() + 301_000))).toBe(false);
    expect(verifyWebhookSignature(body, header.replace(`t=${t}`, `t=${t + 1}`), secret, 300, now)).toBe(false);
    expect(verifyWebhookSignature(body, undefined, secret, 300, now)).toBe(false);
    expect(verifyWebhookSignature(body, 'sha256=abc', secret, 300, now)).toBe(false);
    expect(verifyWebhookSignature(body, `t=${t},v1=zz`, secret, 300, now)).toBe(false);
  });

  it('accepts any one of several v1 values (a secret being rotated)', () => {
    const good = signWebhookBody(body, secret, t);
    const other = signWebhookBody(body, 'whsec_old', t).split(',')[1];
    expect(verifyWebhookSignature(body, `${good},${other}`, secret, 300, now)).toBe(true);
    expect(verifyWebhookSignature(body, `${good},${other}`, 'whsec_old', 300, now)).toBe(true);
  });
});
