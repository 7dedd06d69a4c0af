import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import { redactUrl } from '../../../platform/redact.js';
import { DeliveryError, type EmailSender, type OutgoingEmail } from './channel.js';

import { DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM } from '../../../platform/config.js';

export { DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM };

export interface EmailConfig {
  /** smtp://[user:pass@]host:port or smtps://…; unset: each message is written as an .eml file into `mailDir`. */
  smtpUrl?: string;
  /** The From header (MAIL_FROM). */
  from?: string;
  /** Where the embedded default writes messages (MAIL_DIR); relative paths from the working directory. */
  mailDir?: string;
  /** SMTP connection, greeting and socket timeouts (default 10 s each). */
  timeoutMs?: number;
  /** Pooled SMTP connections (default 5). */
  maxConnections?: number;
}

/** Where each sender sends, for the start-up banner (no password). */
export function describeEmail(config: EmailConfig): string {
  return config.smtpUrl ? `SMTP at ${redactUrl(config.smtpUrl)}` : `.eml files in ${resolve(config.mailDir ?? DEFAULT_MAIL_DIR)}`;
}

/**
 * The e-mail channel: over SMTP when `smtpUrl` is set (pooled connections, bounded timeouts),
 * otherwise into a local folder, one RFC 822 `.eml` file per message (named after the
 * notification id, so a resend overwrites), which any mail client opens: `npm start` needs no
 * mail server. Either way the message carries `List-Unsubscribe` with the notification's
 * unsubscribe link (no `List-Unsubscribe-Post`: that promises RFC 8058 one-click POSTs, which
 * the unsubscribe endpoint would have to accept first).
 */
export function createEmailSender(config: EmailConfig = {}): EmailSender {
  const from = config.from?.trim() || DEFAULT_MAIL_FROM;
  return config.smtpUrl ? new SmtpEmailSender(config.smtpUrl, from, config) : new FolderEmailSender(resolve(config.mailDir ?? DEFAULT_MAIL_DIR), from);
}

function message(email: OutgoingEmail, from: string): SendMailOptions {
  return {
    from,
    to: email.to,
    subject: email.subject,
    text: email.text,
    html: email.html,
    headers: { 'X-Storefront-Notification': email.notificationId },
    list: { unsubscribe: email.unsubscribeUrl },
  };
}

/** SMTP reply codes and socket failures to retryable or permanent delivery errors. */
export function toDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const e = error as { code?: unknown; responseCode?: unknown; message?: unknown };
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = typeof e.code === 'string' ? e.code : 'UNKNOWN';
  const text = `smtp ${code}${status ? ` ${status}` : ''}: ${typeof e.message === 'string' ? e.message : String(error)}`;
  // 5xx: the server refused for good (no such mailbox, message rejected, authentication failed).
  if (status !== undefined && status >= 500) return new DeliveryError(text, false, status);
  // 4xx: try again later (greylisting, mailbox busy, too many connections).
  if (status !== undefined && status >= 400) return new DeliveryError(text, true, status);
  // No reply code: a refused address or a broken message is permanent; the network is not.
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || code === 'ECONFIG' || code === 'EAUTH') return new DeliveryError(text, false, status);
  return new DeliveryError(text, true, status);
}

class SmtpEmailSender implements EmailSender {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
    config: EmailConfig,
  ) {
    const url = new URL(smtpUrl);
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`SMTP_URL must start with smtp:// or smtps://, not ${url.protocol}//`);
    const timeout = config.timeoutMs ?? 10_000;
    this.transport = nodemailer.createTransport({
      pool: true,
      maxConnections: config.maxConnections ?? 5,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async send(email: OutgoingEmail): Promise<void> {
    try {
      await this.transport.sendMail(message(email, this.from));
    } catch (error) {
      throw toDeliveryError(error);
    }
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}

class FolderEmailSender implements EmailSender {
  private readonly transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  private ready: Promise<unknown> | undefined;

  constructor(
    readonly dir: string,
    private readonly from: string,
  ) {}

  async send(email: OutgoingEmail): Promise<void> {
    try {
      this.ready ??= mkdir(this.dir, { recursive: true });
      await this.ready;
      const info = await this.transport.sendMail(message(email, this.from));
      const file = join(this.dir, `${email.notificationId.replace(/[^A-Za-z0-9_-]/g, '_')}.eml`);
      // Written aside and renamed: a reader never sees half a message.
      await writeFile(`${file}.tmp`, info.message as Buffer);
      await rename(`${file}.tmp`, file);
    } catch (error) {
      this.ready = undefined;
      // A full or unwritable disk may clear up; a message that cannot be composed will not.
      const code = (error as { code?: unknown }).code;
      throw new DeliveryError(`mail folder ${this.dir}: ${(error as Error).message}`, typeof code === 'string' && code.startsWith('E') && code !== 'EMESSAGE');
    }
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}
