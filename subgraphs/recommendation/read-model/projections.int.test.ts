import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../../platform/documents/memory-document-store.js';
import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import type { ProjectionTarget } from '../../../projections/projection.js';
import { coPurchasesProjection, productFactsProjection } from './projections.js';

let position = 0;
const recorded = (type: string, data: Record<string, unknown>): RecordedEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata: { correlationId: 'c', causationId: 'c', actor: 'system', occurredAt: '2026-12-01T00:00:00.000Z', schemaVersion: 1 },
  streamName: `rec-${randomUUID()}`,
  revision: 0,
  position: ++position,
  recordedAt: '2026-12-01T00:00:00.000Z',
});

// What the recommendation projections announce to the gateway's response cache
// (gateway/response-cache-policy.ts keeps Product.recommendations under these tags).
describe('recommendation projections feeding the gateway response cache', () => {
  const documents = new MemoryDocumentStore();
  const target: ProjectionTarget = { collection: (name) => documents.collection(name) };

  it('announce the bought-together answers of every product of a purchase, and of products asked for without their id', async () => {
    expect(coPurchasesProjection.feedsGateway).toBe(true);
    const purchase = recorded('PurchaseRecorded', { orderId: randomUUID(), customerId: null, productIds: ['a', 'b'], paidAt: '2026-12-01T00:00:00.000Z' });
    expect((await coPurchasesProjection.apply(purchase, target)).responseTags).toEqual(['field:Product.recommendations@a', 'field:Product.recommendations@b', 'field:Product.recommendations@*']);
    // Applied again (a redelivery, a replay): nothing changed, nothing announced.
    expect(await coPurchasesProjection.apply(purchase, target)).toEqual({ changed: false });
  });

  it('announce every answer when a product becomes unavailable or available again, and nothing for other facts', async () => {
    expect(productFactsProjection.feedsGateway).toBe(true);
    const facts = (status: string, inStock: boolean, category = 'kitchen') => recorded('ProductFactsRecorded', { productId: 'p', category, status, inStock, sourcePosition: position, recordedAt: '2026-12-01T00:00:00.000Z' });
    expect((await productFactsProjection.apply(facts('ACTIVE', true), target)).responseTags).toBeUndefined(); // new: in no answer yet
    expect((await productFactsProjection.apply(facts('ACTIVE', true), target)).responseTags).toBeUndefined(); // the same facts again
    for (const [status, inStock] of [['ACTIVE', false], ['ACTIVE', true], ['DISCONTINUED', true]] as const) {
      expect((await productFactsProjection.apply(facts(status, inStock), target)).responseTags, `${status} ${inStock}`).toEqual(['field:Product.recommendations']);
    }
  });
});
