import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../platform/testing/eventually.js';
import { OwnServer } from '../../../platform/testing/own-server.js';
import { freePort } from '../../../platform/testing/system-process.js';
import { DeliveryError, type NotificationContent, type OutgoingEmail } from './channel.js';
import { createEmailSender, DEFAULT_MAIL_FROM } from './email.js';
import { composeEmail } from './templates.js';

const content: NotificationContent = {
  notificationId: randomUUID(),
  kind: 'ORDER_REJECTED',
  recipientId: randomUUID(),
  occurredAt: '2026-12-02T03:00:00.000Z',
  data: { orderId: '3f2a9c1e-0000-4000-8000-000000000001', reason: 'Not enough stock of Blue Mug', total: { amount: 4599, currency: 'EUR' } },
};

function outgoing(to: string, notificationId: string = randomUUID()): OutgoingEmail {
  const unsubscribeUrl = `https://shop.example/unsubscribe?token=${notificationId}`;
  return composeEmail({ ...content, notificationId }, { email: to, name: 'Ada Lovelace' }, unsubscribeUrl);
}

describe('e-mail into a folder (the embedded default)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mail-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes each message as a readable .eml file named after the notification, with List-Unsubscribe', async () => {
    const sender = createEmailSender({ mailDir: join(dir, 'mail') });
    const email = outgoing('ada@example.com');
    await sender.send(email);
    await sender.send(email); // a resend overwrites: one file per notification
    await sender.close();
    expect(readdirSync(join(dir, 'mail'))).toEqual([`${email.notificationId}.eml`]);
    const eml = readFileSync(join(dir, 'mail', `${email.notificationId}.eml`), 'utf8');
    const headers = eml.slice(0, eml.indexOf('\n\n')).replace(/\n[ \t]+/g, ' '); // unfolded (RFC 5322)
    expect(headers).toMatch(/^To: ada@example\.com$/m);
    expect(headers).toMatch(/^From: Storefront <no-reply@storefront\.local>$/m);
    expect(headers).toMatch(/^Subject: Your order #3f2a9c1e could not be accepted$/m);
    expect(headers).toContain(`List-Unsubscribe: <${email.unsubscribeUrl}>`);
    expect(headers).toMatch(/^Content-Type: multipart\/alternative/m);
    expect(eml).toContain('Reason: Not enough stock of Blue Mug');
    expect(eml).toContain('text/html');
  });

  it('fails retryably when the folder cannot be written', async () => {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const sender = createEmailSender({ mailDir: join(dir, 'a-file', 'mail') });
    const error = await sender.send(outgoing('ada@example.com')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    await sender.close();
  });
});

interface MailpitSummary {
  ID: string;
  Subject: string;
  To: { Address: string; Name: string }[];
}

interface MailpitMessage extends MailpitSummary {
  From: { Address: string; Name: string };
  Text: string;
  HTML: string;
}

const cacheDir = process.env.STOREFRONT_CACHE ?? join(homedir(), '.cache', 'storefront');
const mailpitInstalled = existsSync(join(cacheDir, 'mailpit', process.env.MAILPIT_VERSION ?? 'v1.33.1', 'bin', 'mailpit'));
const sharedMailpit = process.env.SMTP_URL && process.env.MAILPIT_URL ? { smtpUrl: process.env.SMTP_URL, api: `${process.env.MAILPIT_URL.replace(/\/$/, '')}/api/v1` } : undefined;
/**
 * A private Mailpit when it is installed (the test stands alone); otherwise the one SMTP_URL and
 * MAILPIT_URL point at (GitHub's service container); otherwise skipped, except in CI, where it
 * fails (CI installs it).
 */
const mode = mailpitInstalled ? 'private' : sharedMailpit ? 'shared' : process.env.CI === 'true' ? 'private' : 'skip';
if (mode === 'skip') process.stderr.write('SKIPPED: e-mail over SMTP to a real Mailpit (not installed: bash scripts/servers/install.sh mailpit; or set SMTP_URL and MAILPIT_URL)\n');

/**
 * The SMTP sender against a real SMTP server, read back through Mailpit's HTTP API. A private
 * Mailpit (started with the project's scripts on its own ports) accepts only recipients at
 * example.com, as a real server refuses unknown mailboxes; a shared one is told apart by unique
 * recipients.
 */
describe.skipIf(mode === 'skip')(`e-mail over SMTP to a real Mailpit (${mode})`, () => {
  let server: OwnServer | undefined;
  let smtpUrl: string;
  let api: string;

  beforeAll(async () => {
    if (mode === 'shared') {
      ({ smtpUrl, api } = sharedMailpit!);
      return;
    }
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    server = new OwnServer('mailpit', { MAILPIT_SMTP_PORT: String(smtpPort), MAILPIT_HTTP_PORT: String(httpPort), MAILPIT_ALLOWED_RECIPIENTS: '@example\\.com$' });
    await server.start();
    smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
    api = `http://127.0.0.1:${httpPort}/api/v1`;
  }, 60_000);
  afterAll(() => server?.dispose());

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${api}${path}`);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };
  const received = async (to: string): Promise<MailpitMessage> => {
    const summary = await eventually(async () => {
      const { messages } = await get<{ messages: MailpitSummary[] }>('/messages');
      const found = messages.find((m) => m.To.some((t) => t.Address === to));
      expect(found, `a message to ${to}`).toBeDefined();
      return found!;
    }, 10_000);
    return get<MailpitMessage>(`/message/${summary.ID}`);
  };

  it('delivers the rendered e-mail: recipient, subject, text, HTML and List-Unsubscribe as sent', async () => {
    const sender = createEmailSender({ smtpUrl });
    const to = `ada-${randomUUID().slice(0, 8)}@example.com`;
    const email = outgoing(to);
    await sender.send(email);
    await sender.close();

    const message = await received(to);
    expect(message.To).toEqual([{ Address: to, Name: '' }]);
    expect(message.From).toEqual({ Address: 'no-reply@storefront.local', Name: 'Storefront' });
    expect(DEFAULT_MAIL_FROM).toBe('Storefront <no-reply@storefront.local>');
    expect(message.Subject).toBe('Your order #3f2a9c1e could not be accepted');
    expect(message.Text).toContain('Hello Ada Lovelace,');
    expect(message.Text).toContain('Reason: Not enough stock of Blue Mug');
    expect(message.Text).toContain('Total: €45.99');
    expect(message.HTML).toContain(`<a href="${email.unsubscribeUrl}">Unsubscribe</a>`);
    const headers = await get<Record<string, string[]>>(`/message/${message.ID}/headers`);
    expect(headers['List-Unsubscribe']).toEqual([`<${email.unsubscribeUrl}>`]);
    expect(headers['X-Storefront-Notification']).toEqual([email.notificationId]);
  });

  it('authenticates when the URL has credentials, and sends From as MAIL_FROM says', async () => {
    const sender = createEmailSender({ smtpUrl: smtpUrl.replace('smtp://', 'smtp://shop%40user:p%40ss@'), from: 'Shop <shop@example.com>' });
    const to = `grace-${randomUUID().slice(0, 8)}@example.com`;
    await sender.send(outgoing(to));
    await sender.close();
    expect((await received(to)).From).toEqual({ Address: 'shop@example.com', Name: 'Shop' });
  });

  it.skipIf(mode === 'shared')('maps a refused recipient (5xx) to a permanent failure', async () => {
    const sender = createEmailSender({ smtpUrl });
    const refused = await sender.send(outgoing('someone@not-accepted.test')).catch((e: unknown) => e);
    await sender.close();
    expect(refused).toBeInstanceOf(DeliveryError);
    expect(refused).toMatchObject({ retryable: false });
    expect((refused as DeliveryError).status).toBeGreaterThanOrEqual(500);
  });

  it('maps an unreachable server to a retryable failure', async () => {
    const down = createEmailSender({ smtpUrl: `smtp://127.0.0.1:${await freePort()}`, timeoutMs: 2000 });
    const unreachable = await down.send(outgoing('ada@example.com')).catch((e: unknown) => e);
    await down.close();
    expect(unreachable).toBeInstanceOf(DeliveryError);
    expect(unreachable).toMatchObject({ retryable: true });
  });
});
