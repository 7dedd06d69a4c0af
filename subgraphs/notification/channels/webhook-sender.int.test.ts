import type { LookupFunction } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressNotAllowedError } from './address-guard.js';
import { DeliveryError, type WebhookPayload } from './channel.js';
import { TestReceiver } from './test-receiver.js';
import { createWebhookSender, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from './webhook.js';

const payload: WebhookPayload = { id: 'notification-1', kind: 'UNIT_SOLD', occurredAt: '2026-12-02T03:00:00.000Z', data: { productId: 'p-1', quantity: 2, productName: 'Ünïcødé mug' } };
const secret = 'whsec_sender_test';

/** Resolves every name to one address, as a hostile DNS answer would. */
const resolvingTo =
  (address: string, family: 4 | 6 = 4): LookupFunction =>
  (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (e: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DeliveryError);
    return error as DeliveryError;
  }
  throw new Error('expected the send to fail');
}

describe('webhook sender against a local HTTP receiver', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const receiver = async (answer: Parameters<typeof TestReceiver.start>[0], host?: string) => {
    const r = await TestReceiver.start(answer, host);
    cleanup.push(() => r.close());
    return r;
  };
  const sender = (options: Parameters<typeof createWebhookSender>[0]) => {
    const s = createWebhookSender(options);
    cleanup.push(() => s.close());
    return s;
  };

  it('POSTs the JSON payload with a signature the receiver verifies, and the delivery id; a tampered body does not verify', async () => {
    const r = await receiver(() => 204);
    const now = new Date();
    await sender({ allowPrivate: true, clock: () => now }).send({ webhookId: 'w-1', url: r.url('/hook?x=1'), secret }, payload);
    expect(r.received).toHaveLength(1);
    const [request] = r.received;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/hook?x=1');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers[DELIVERY_HEADER]).toBe('notification-1');
    expect(request!.headers[TIMESTAMP_HEADER]).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(JSON.parse(request!.body)).toEqual(payload);
    const signature = request!.headers[SIGNATURE_HEADER] as string;
    expect(verifyWebhookSignature(request!.body, signature, secret, 300)).toBe(true);
    expect(verifyWebhookSignature(request!.body.replace('"quantity":2', '"quantity":20'), signature, secret, 300)).toBe(false);
    expect(verifyWebhookSignature(request!.body, signature, 'whsec_wrong', 300)).toBe(false);
  });

  it('maps answers: 5xx, 408 and 429 retryable; other 4xx and redirects (not followed) permanent', async () => {
    const statuses = [500, 503, 408, 429, 400, 404, 410, 302];
    const r = await receiver((_req, i) => (statuses[i] === 302 ? { status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } } : statuses[i]!));
    const s = sender({ allowPrivate: true });
    const results: [number | undefined, boolean][] = [];
    for (let i = 0; i < statuses.length; i++) {
      const error = await failure(s.send({ webhookId: 'w-1', url: r.url(), secret }, payload));
      results.push([error.status, error.retryable]);
    }
    expect(results).toEqual([
      [500, true],
      [503, true],
      [408, true],
      [429, true],
      [400, false],
      [404, false],
      [410, false],
      [302, false],
    ]);
    expect(r.received).toHaveLength(statuses.length); // the redirect was not followed
  });

  it('gives up on a receiver that does not answer within the timeout (retryable), and on a closed port (retryable)', async () => {
    const r = await receiver(() => 'hang');
    const s = sender({ allowPrivate: true, timeoutMs: 300 });
    const timedOut = await failure(s.send({ webhookId: 'w-1', url: r.url(), secret }, payload));
    expect(timedOut.retryable).toBe(true);
    expect(timedOut.message).toMatch(/no answer within 300 ms/);
    const closed = await failure(s.send({ webhookId: 'w-1', url: 'http://127.0.0.1:1/hook', secret }, payload));
    expect(closed.retryable).toBe(true);
  });

  describe('address guard (production: allowPrivate false)', () => {
    it('refuses loopback literals (IPv4, IPv6, IPv4-mapped) before connecting', async () => {
      const r = await receiver(() => 200);
      const s = sender({ allowPrivate: false });
      for (const url of [r.url('/hook', '127.0.0.1'), `http://[::1]:${r.port}/hook`, `http://[::ffff:127.0.0.1]:${r.port}/hook`, 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/hook', 'http://[fd00::1]/hook']) {
        const error = await failure(s.send({ webhookId: 'w-1', url, secret }, payload));
        expect(error).toBeInstanceOf(AddressNotAllowedError);
        expect(error).toMatchObject({ retryable: false, code: 'ADDRESS_NOT_ALLOWED' });
      }
      expect(r.received).toHaveLength(0);
    });

    it('refuses a host name resolving to loopback (localhost, and a public-looking name whose DNS answer is 127.0.0.1)', async () => {
      const r = await receiver(() => 200);
      const localhost = await failure(sender({ allowPrivate: false }).send({ webhookId: 'w-1', url: r.url('/hook', 'localhost'), secret }, payload));
      expect(localhost).toMatchObject({ retryable: false, code: 'ADDRESS_NOT_ALLOWED' });
      const rebinding = await failure(sender({ allowPrivate: false, lookup: resolvingTo('127.0.0.1') }).send({ webhookId: 'w-1', url: `http://hooks.example.com:${r.port}/hook`, secret }, payload));
      expect(rebinding).toMatchObject({ retryable: false, code: 'ADDRESS_NOT_ALLOWED', address: '127.0.0.1' });
      const v6 = await failure(sender({ allowPrivate: false, lookup: resolvingTo('::1', 6) }).send({ webhookId: 'w-1', url: `http://hooks.example.com:${r.port}/hook`, secret }, payload));
      expect(v6).toMatchObject({ code: 'ADDRESS_NOT_ALLOWED', address: '::1' });
      expect(r.received).toHaveLength(0);
    });

    it('connects to the address it checked: a name resolving to an allowed address goes there', async () => {
      const r = await receiver(() => 200);
      // allowPrivate (development): the same resolver's loopback answer is used and reached.
      await sender({ allowPrivate: true, lookup: resolvingTo('127.0.0.1') }).send({ webhookId: 'w-1', url: `http://hooks.example.com:${r.port}/hook`, secret }, payload);
      expect(r.received).toHaveLength(1);
      expect(r.received[0]!.headers.host).toBe(`hooks.example.com:${r.port}`);
    });
  });
});
