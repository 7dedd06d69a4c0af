import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fold } from '../../platform/eventsourcing/decider.js';
import { SeededRandom } from '../../platform/testing/seeded-random.js';
import { catalogProjection, evolveDoc } from './catalog/projection.js';
import { productDecider, RESERVATION_MEMORY_MS, reservationsOf, type InventoryCommand, type ProductCommand, type ProductState } from './decider.js';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from './events.js';
import { productPublicEvents } from './public-events.js';
import { productDoc } from './service.js';
import { PRODUCT_SNAPSHOT_TYPE, productSnapshots } from './snapshot.js';

const DAY = 24 * 3600 * 1000;
const policy = productSnapshots(100);

/**
 * A product's history over `days` days, made by its own decider: orders reserved (placed a little
 * earlier), then sold, released or left open; sold ones sometimes released later; restocks.
 */
function history(seed: number, days: number) {
  const random = new SeededRandom(seed);
  const productId = randomUUID();
  const seller = { userId: randomUUID(), role: 'SELLER' as const };
  let time = Date.parse('2026-01-01T00:00:00.000Z');
  const iso = () => new Date(time).toISOString();
  const events: ProductEvent[] = [];
  let state: ProductState = productDecider.initialState();
  const run = (command: ProductCommand) => {
    const decided = productDecider.decide(command, state);
    state = fold(productDecider, decided, state);
    events.push(...decided);
  };
  run({ type: 'CreateProduct', productId, by: seller, at: iso(), sku: 'SNAP-1', name: 'Snap', category: 'c', price: { amount: 100, currency: 'EUR' }, initialStock: 500 });
  const orders: string[] = [];
  const open: string[] = []; // reserved, not yet answered, oldest first
  const end = time + days * DAY;
  while (time < end) {
    time += random.int(0, 6 * 3600 * 1000);
    const roll = random.next();
    if (roll < 0.45 || orders.length === 0) {
      const orderId = randomUUID();
      orders.push(orderId);
      open.push(orderId);
      run({ type: 'ReserveStock', productId, orderId, at: iso(), placedAt: new Date(time - random.int(0, 60_000)).toISOString(), quantity: random.int(1, 5) });
    } else if (roll < 0.97) {
      // Mostly the oldest open orders (as the saga and expiry end them), some answered twice.
      const orderId = open.length > 0 && random.chance(0.9) ? open.splice(random.int(0, Math.min(3, open.length - 1)), 1)[0]! : random.pick(orders.slice(-40));
      run({ type: random.chance(0.6) ? 'SellStock' : 'ReleaseStock', productId, orderId, at: iso() });
    } else {
      run({ type: 'RestockProduct', productId, by: seller, at: iso(), quantity: random.int(50, 200) });
    }
  }
  return { productId, seller, events, orders, end: time };
}

/** The state a cold process starts from: the snapshot (through JSON, as stored) after `split` events, then the rest. */
function viaSnapshot(events: readonly ProductEvent[], split: number): { state: ProductState; snapshot: ReturnType<typeof policy.toSnapshot> } {
  const snapshot = JSON.parse(JSON.stringify(policy.toSnapshot(fold(productDecider, events.slice(0, split))))) as unknown;
  return { state: fold(productDecider, events.slice(split), policy.fromSnapshot(snapshot)), snapshot };
}

describe('product snapshots', () => {
  it('decide every inventory command exactly as the state folded from every event does, at any split point', () => {
    for (const seed of [1, 2]) {
      const h = history(seed, 90);
      const full = fold(productDecider, h.events);
      for (const split of [1, Math.floor(h.events.length / 3), Math.floor(h.events.length / 2), h.events.length - 7, h.events.length]) {
        const { state } = viaSnapshot(h.events, split);
        expect(productDoc(state)).toEqual(productDoc(full));
        const probes: InventoryCommand[] = [];
        for (const offset of [0, 1, DAY / 2]) {
          const at = new Date(h.end + offset).toISOString();
          for (const orderId of [...h.orders.filter((_, i) => i % 5 === 0 || i > h.orders.length - 30), randomUUID()]) {
            probes.push({ type: 'SellStock', productId: h.productId, orderId, at }, { type: 'ReleaseStock', productId: h.productId, orderId, at });
            for (const placedAgo of [0, 10 * DAY, RESERVATION_MEMORY_MS + 1]) probes.push({ type: 'ReserveStock', productId: h.productId, orderId, at, placedAt: new Date(h.end - placedAgo).toISOString(), quantity: 2 });
          }
        }
        for (const probe of probes) expect(productDecider.decide(probe, state), `seed ${seed}, split ${split}, ${probe.type} ${probe.orderId}`).toEqual(productDecider.decide(probe, full));
      }
    }
  });

  it('stay bounded: open reservations and those finished within the memory, however long the history', () => {
    const short = history(7, 60);
    const long = history(7, 600);
    const size = (h: ReturnType<typeof history>) => {
      const { snapshot } = viaSnapshot(h.events, h.events.length);
      return (snapshot as { reservations: unknown[] }).reservations.length;
    };
    const open = (h: ReturnType<typeof history>) => [...reservationsOf(fold(productDecider, h.events)).values()].filter((r) => r.state === 'reserved').length;
    expect(long.events.length).toBeGreaterThan(8 * short.events.length);
    // About 31 days of finished orders plus the open ones, for either history.
    expect(size(long)).toBeLessThan(open(long) + 3 * size(short));
    expect(size(long)).toBeLessThan(reservationsOf(fold(productDecider, long.events)).size / 5);
  });

  it('answer mutations with the document the catalog projection builds from the same events', () => {
    const h = history(11, 40);
    const fromEvents = h.events.reduce<ReturnType<typeof evolveDoc>>((doc, event, revision) => evolveDoc(doc, event, '2026-01-01T00:00:00.000Z', revision), undefined);
    expect(productDoc(fold(productDecider, h.events))).toEqual(fromEvents);
  });

  it('are no product event: the catalog projection and the public contract pass over them', () => {
    const snapshot = { id: randomUUID(), type: PRODUCT_SNAPSHOT_TYPE, data: {}, metadata: { correlationId: 'c', causationId: 'c', actor: 'a', occurredAt: new Date().toISOString(), schemaVersion: 1 }, streamName: 'snapshot-product-x', revision: 0, position: 1, recordedAt: new Date().toISOString() };
    expect(catalogProjection.handles(snapshot)).toBe(false);
    expect(productPublicEvents(snapshot)).toBeUndefined();
    expect(PRODUCT_EVENT_TYPES.has(PRODUCT_SNAPSHOT_TYPE)).toBe(false);
  });
});
