import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationKind } from './channels/channel.js';
import { ALL_KINDS } from './decider.js';

/**
 * Unsubscribe tokens: `<payload>.<signature>`, base64url, the payload `{u: userId, k: kind}` and
 * the signature HMAC-SHA256 over it with the internal secret (a purpose prefix keeps it from
 * ever verifying as anything else). They do not expire: an unsubscribe link in an old e-mail
 * keeps working, and it can only ever turn e-mail off for one kind of one user.
 */
const PURPOSE = 'storefront-unsubscribe-v1\n';

function sign(payload: string, secret: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(PURPOSE).update(payload).digest();
}

export function unsubscribeToken(userId: string, kind: NotificationKind, secret: Uint8Array): string {
  const payload = Buffer.from(JSON.stringify({ u: userId, k: kind })).toString('base64url');
  return `${payload}.${sign(payload, secret).toString('base64url')}`;
}

/** The user and kind a token names, or undefined when it is malformed or its signature is wrong. */
export function readUnsubscribeToken(token: string, secret: Uint8Array): { userId: string; kind: NotificationKind } | undefined {
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length > 0 || token.length > 1000) return undefined;
  const expected = sign(payload, secret);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u?: unknown; k?: unknown };
    if (typeof value.u !== 'string' || typeof value.k !== 'string' || !ALL_KINDS.includes(value.k as NotificationKind)) return undefined;
    return { userId: value.u, kind: value.k as NotificationKind };
  } catch {
    return undefined;
  }
}
