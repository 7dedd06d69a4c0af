import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../platform/config.js';
import { createLogger } from '../../../platform/logging.js';
import { DEVELOPMENT_KEY, WebhookSecretBox, WebhookSecretUnreadableError, webhookSecretBox, type SealedWebhookSecret } from './webhook-secrets.js';

const key = (id: string) => ({ id, key: new Uint8Array(randomBytes(32)) });
const secret = `whsec_${randomBytes(32).toString('base64url')}`;
/** The same base64url bytes with one bit flipped. */
const flip = (b64: string, index = 0): string => {
  const bytes = Buffer.from(b64, 'base64url');
  bytes[index]! ^= 1;
  return bytes.toString('base64url');
};
/** Why `open` refused (it must refuse with a WebhookSecretUnreadableError). */
function refusal(open: () => string): WebhookSecretUnreadableError['reason'] {
  try {
    open();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookSecretUnreadableError);
    expect(error).toMatchObject({ code: 'WEBHOOK_SECRET_UNREADABLE', message: expect.stringMatching(/^WEBHOOK_SECRET_UNREADABLE: /) as string });
    return (error as WebhookSecretUnreadableError).reason;
  }
  throw new Error('the record was opened');
}

describe('webhook secrets at rest (AES-256-GCM)', () => {
  it('seals into a self-describing record without the secret in it, with a fresh IV each time, and opens it again', () => {
    const box = new WebhookSecretBox([key('k1')]);
    const sealed = box.seal('w-1', secret);
    expect(sealed).toEqual({ v: 1, alg: 'A256GCM', keyId: 'k1', iv: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) as string, ciphertext: expect.any(String) as string, tag: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) as string });
    expect(JSON.stringify(sealed)).not.toContain(secret.slice('whsec_'.length));
    expect(box.open('w-1', sealed)).toBe(secret);
    expect(box.reveal('w-1', sealed)).toBe(secret);
    const again = box.seal('w-1', secret);
    expect(again.iv).not.toBe(sealed.iv);
    expect(again.ciphertext).not.toBe(sealed.ciphertext);
  });

  it('does not open a ciphertext moved to another webhook (the webhook id is authenticated data)', () => {
    const box = new WebhookSecretBox([key('k1')]);
    expect(refusal(() => box.open('w-2', box.seal('w-1', secret)))).toBe('NOT_AUTHENTIC');
  });

  it('does not open a tampered record: ciphertext, tag or IV altered, or a malformed one', () => {
    const box = new WebhookSecretBox([key('k1')]);
    const sealed = box.seal('w-1', secret);
    const tampered: SealedWebhookSecret[] = [{ ...sealed, ciphertext: flip(sealed.ciphertext, 3) }, { ...sealed, tag: flip(sealed.tag) }, { ...sealed, iv: flip(sealed.iv) }];
    for (const record of tampered) expect(refusal(() => box.open('w-1', record))).toBe('NOT_AUTHENTIC');
    expect(refusal(() => box.open('w-1', { ...sealed, tag: sealed.tag.slice(0, 10) }))).toBe('MALFORMED'); // a truncated tag is not accepted
    expect(refusal(() => box.open('w-1', { ...sealed, v: 2 } as unknown as SealedWebhookSecret))).toBe('MALFORMED');
  });

  it('after a rotation seals with the new key and still opens what the old key sealed; without the old key it cannot', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const old = new WebhookSecretBox([k1]).seal('w-1', secret);
    const rotated = new WebhookSecretBox([k2, k1]);
    expect(rotated.currentKeyId).toBe('k2');
    expect(rotated.open('w-1', old)).toBe(secret);
    const fresh = rotated.seal('w-2', 'whsec_new');
    expect(fresh.keyId).toBe('k2');
    expect(new WebhookSecretBox([k2]).open('w-2', fresh)).toBe('whsec_new');
    expect(refusal(() => new WebhookSecretBox([k2]).open('w-1', old))).toBe('UNKNOWN_KEY');
    // Another key under the old id (a wrong value configured): not authentic, never a wrong secret.
    expect(refusal(() => new WebhookSecretBox([{ id: 'k1', key: k2.key }]).open('w-1', old))).toBe('NOT_AUTHENTIC');
  });

  it('reads a legacy clear secret as it is', () => {
    expect(WebhookSecretBox.development().reveal('w-1', { v: 0, plain: 'whsec_legacy' })).toBe('whsec_legacy');
  });

  it('requires keys in production (and refuses the public development key); development uses that key and warns once', () => {
    const lines: string[] = [];
    const logger = createLogger('test', 'warn', { write: (line: string) => void lines.push(line) });
    expect(() => webhookSecretBox({ secretKeys: undefined, requireSecretKeys: true }, logger)).toThrow(ConfigError);
    expect(() => webhookSecretBox({ secretKeys: undefined, requireSecretKeys: true }, logger)).toThrow(/^WEBHOOK_SECRET_KEYS is required in production/);
    expect(() => webhookSecretBox({ secretKeys: [key('k1'), DEVELOPMENT_KEY], requireSecretKeys: true }, logger)).toThrow(/development key is public and refused in production/);
    expect(webhookSecretBox({ secretKeys: [key('k1')], requireSecretKeys: true }, logger).currentKeyId).toBe('k1');
    expect(lines).toEqual([]);

    const dev = webhookSecretBox({ secretKeys: undefined, requireSecretKeys: false }, logger);
    expect(dev.currentKeyId).toBe('dev');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('WEBHOOK_SECRET_KEYS is not set');
    // Deterministic: another process (or a restart) opens what this one sealed.
    expect(WebhookSecretBox.development().open('w-1', dev.seal('w-1', secret))).toBe(secret);
    expect(() => new WebhookSecretBox([])).toThrow(ConfigError);
    expect(() => new WebhookSecretBox([{ id: 'short', key: new Uint8Array(16) }])).toThrow(/must be 32 bytes/);
  });
});
