import type { EmailSender, OutgoingEmail, WebhookPayload } from './channels/channel.js';
import type { WebhookDeliverer } from './dispatcher.js';

/**
 * Transports for tests, at the seam only (the SMTP server and the sellers' webhook receivers are
 * outside the system): they keep what they were given, in order, and can be held (a slow server)
 * or made to fail.
 */
export class CapturingEmailSender implements EmailSender {
  readonly sent: OutgoingEmail[] = [];
  /** Fails the next sends with these errors, one each, before accepting again. */
  readonly failures: Error[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private onHeld: (() => void) | undefined;

  /** Holds every send until `release()`; resolves once one send is held. */
  hold(): Promise<void> {
    this.gate = new Promise((resolve) => (this.open = resolve));
    return new Promise((resolve) => (this.onHeld = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async send(email: OutgoingEmail): Promise<void> {
    if (this.gate) {
      this.onHeld?.();
      await this.gate;
    }
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(email);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class CapturingWebhooks implements WebhookDeliverer {
  readonly delivered: { sellerId: string; payload: WebhookPayload }[] = [];
  deliver(sellerId: string, payload: WebhookPayload): Promise<void> {
    this.delivered.push({ sellerId, payload });
    return Promise.resolve();
  }
}
