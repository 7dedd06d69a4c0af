import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ValidationError } from '../../../platform/errors.js';
import { AddressNotAllowedError, guardedLookup, isRefusedAddress } from './address-guard.js';
import { DeliveryError, type WebhookPayload, type WebhookSender, type WebhookTarget } from './channel.js';

/**
 * The webhook channel: one signed JSON POST per notification and webhook.
 *
 * Headers a receiver gets:
 * - `x-storefront-signature: t=<unix seconds>,v1=<hex>`, where hex is HMAC-SHA256, keyed with the
 *   webhook's secret, of `<t>.<the exact request body>` (Stripe's scheme: the timestamp is signed
 *   too, so a captured request cannot be replayed later with a new timestamp);
 * - `x-storefront-timestamp: <t>` (the same t, for logs);
 * - `x-storefront-delivery: <notification id>`: a retry sends the same id, receivers deduplicate on it;
 * - `x-storefront-event: <kind>`.
 * Receivers verify with `verifyWebhookSignature` (or the same few lines in their language).
 */
export const SIGNATURE_HEADER = 'x-storefront-signature';
export const TIMESTAMP_HEADER = 'x-storefront-timestamp';
export const DELIVERY_HEADER = 'x-storefront-delivery';
export const EVENT_HEADER = 'x-storefront-event';

export function signWebhookBody(body: string, secret: string, timestampSeconds: number): string {
  const hex = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${hex}`;
}

/**
 * For receivers: whether `header` (the x-storefront-signature value) signs `body` (the raw request
 * body, byte for byte, before any JSON parsing) with `secret`, at a timestamp no further than
 * `toleranceSeconds` from `now`. Several v1 values may be present (a secret being rotated): any
 * one matching is enough. Compared in constant time.
 */
export function verifyWebhookSignature(body: string | Buffer, header: string | undefined, secret: string, toleranceSeconds = 300, now: Date = new Date()): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
  const t = parts.find(([k]) => k === 't')?.[1];
  if (!t || !/^\d{1,12}$/.test(t)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(t)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  return parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v))
    .some(([, v]) => timingSafeEqual(Buffer.from(v!, 'hex'), expected));
}

export interface WebhookUrlOptions {
  /** Development only: loopback and private addresses (and plain http) are allowed. */
  allowPrivate: boolean;
  /** Default: true unless `allowPrivate`. */
  requireHttps?: boolean;
}

const MAX_URL_LENGTH = 2048;
/** Names that only ever mean this machine or its own network. */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)\.?$/i;

/**
 * Registration-time check of a webhook URL (INVALID_INPUT on field `url` otherwise): http or https
 * (https only unless development), no credentials in it, not longer than 2048 characters, and —
 * unless `allowPrivate` — no IP literal or local name that the send-time guard would refuse
 * anyway. A public name may still resolve to a private address later: the sender checks again.
 * Returns the normalised URL.
 */
export function validateWebhookUrl(raw: string, options: WebhookUrlOptions): string {
  const field = ['url'];
  const requireHttps = options.requireHttps ?? !options.allowPrivate;
  if (typeof raw !== 'string' || raw.trim() === '') throw new ValidationError('the webhook URL is required', field);
  if (raw.length > MAX_URL_LENGTH) throw new ValidationError(`the webhook URL must be at most ${MAX_URL_LENGTH} characters`, field);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ValidationError('the webhook URL is not a valid URL', field);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('the webhook URL must be http or https', field);
  if (requireHttps && url.protocol !== 'https:') throw new ValidationError('the webhook URL must be https', field);
  if (url.username || url.password) throw new ValidationError('the webhook URL must not contain credentials (the signature authenticates us)', field);
  if (url.hash) throw new ValidationError('the webhook URL must not have a fragment', field);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate) {
    if (isIP(host) ? isRefusedAddress(host) : LOCAL_NAMES.test(host) || !host.includes('.')) {
      throw new ValidationError('the webhook URL must point to a public address (not loopback, private, link-local or reserved)', field);
    }
  }
  return url.toString();
}

export interface WebhookSenderOptions {
  /** Development only: send to loopback and private addresses. Production must leave it false. */
  allowPrivate: boolean;
  /** Whole request (connect, send, answer), default 5000 ms. */
  timeoutMs?: number;
  /** Name resolution (default dns.lookup); every answer goes through the address guard unless allowPrivate. */
  lookup?: LookupFunction;
  /** The signature's timestamp. */
  clock?: () => Date;
  /** Concurrent connections per receiver host (default 10). */
  maxSockets?: number;
}

/**
 * The webhook sender. Redirects are never followed (a 3xx is a permanent failure: the seller
 * registers the final URL); 2xx is delivered; 408, 429 and 5xx, timeouts and network failures are
 * retryable; any other 4xx and a refused address are not.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender & { close(): void } {
  const timeoutMs = options.timeoutMs ?? 5000;
  const clock = options.clock ?? (() => new Date());
  const lookup = options.allowPrivate ? options.lookup : guardedLookup(options.lookup);
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 10, lookup };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  const send = async (target: WebhookTarget, payload: WebhookPayload): Promise<void> => {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      throw new DeliveryError(`webhook ${target.webhookId}: not a URL`, false);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DeliveryError(`webhook ${target.webhookId}: ${url.protocol} is not http(s)`, false);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is connected to without a lookup: check it here.
    if (!options.allowPrivate && isIP(host) && isRefusedAddress(host)) throw new AddressNotAllowedError(host, host);
    const body = JSON.stringify({ id: payload.id, kind: payload.kind, occurredAt: payload.occurredAt, data: payload.data });
    const timestamp = Math.floor(clock().getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'storefront-webhooks/1',
      [SIGNATURE_HEADER]: signWebhookBody(body, target.secret, timestamp),
      [TIMESTAMP_HEADER]: String(timestamp),
      [DELIVERY_HEADER]: payload.id,
      [EVENT_HEADER]: payload.kind,
    };
    const status = await new Promise<number>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, agent: url.protocol === 'https:' ? agents.https : agents.http, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
        response.resume(); // the answer's body is not read: only its status matters
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    }).catch((error: unknown) => {
      if (error instanceof DeliveryError) throw error;
      const cause = error as { name?: string; code?: string; message?: string };
      if (cause.name === 'AbortError' || cause.name === 'TimeoutError') throw new DeliveryError(`webhook ${target.webhookId}: no answer within ${timeoutMs} ms`, true);
      throw new DeliveryError(`webhook ${target.webhookId}: ${cause.code ?? cause.name ?? 'error'}: ${cause.message ?? String(error)}`, true);
    });
    if (status >= 200 && status < 300) return;
    const retryable = status >= 500 || status === 408 || status === 429;
    const why = status >= 300 && status < 400 ? ' (redirects are not followed: register the final URL)' : '';
    throw new DeliveryError(`webhook ${target.webhookId}: the receiver answered ${status}${why}`, retryable, status);
  };

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
