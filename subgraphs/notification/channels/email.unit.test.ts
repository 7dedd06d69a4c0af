import { describe, expect, it } from 'vitest';
import { DeliveryError } from './channel.js';
import { describeEmail, toDeliveryError } from './email.js';

/** Errors shaped as nodemailer raises them (`code`, and `responseCode` when the server replied). */
const smtpError = (code: string, responseCode?: number) => Object.assign(new Error(`${code} failure`), { code, ...(responseCode ? { responseCode } : {}) });

describe('SMTP failures as delivery errors', () => {
  it.each([
    ['a 421 (service not available, try later)', smtpError('EENVELOPE', 421), true],
    ['a 450 (mailbox busy)', smtpError('EENVELOPE', 450), true],
    ['a 452 (insufficient storage)', smtpError('EMESSAGE', 452), true],
    ['a refused connection', smtpError('ECONNECTION'), true],
    ['a timeout', smtpError('ETIMEDOUT'), true],
    ['a broken socket', smtpError('ESOCKET'), true],
    ['a failed DNS lookup', smtpError('EDNS'), true],
    ['a 550 (no such mailbox)', smtpError('EENVELOPE', 550), false],
    ['a 554 (message rejected)', smtpError('EMESSAGE', 554), false],
    ['a 535 (authentication failed)', smtpError('EAUTH', 535), false],
    ['a refused envelope without a reply code', smtpError('EENVELOPE'), false],
  ])('%s is retryable: %s', (_what, error, retryable) => {
    const mapped = toDeliveryError(error);
    expect(mapped).toBeInstanceOf(DeliveryError);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.status).toBe(error.responseCode);
    expect(mapped.message).toContain(error.code);
  });

  it('names where mail goes without the password', () => {
    expect(describeEmail({ smtpUrl: 'smtp://user:secret@mail.example.com:587' })).toBe('SMTP at smtp://user:***@mail.example.com:587');
    expect(describeEmail({ mailDir: '/var/mail/storefront' })).toBe('.eml files in /var/mail/storefront');
  });
});
