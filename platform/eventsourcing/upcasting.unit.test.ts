import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../event-store/event-store.js';
import { schemaVersionOf, upcastEvent, UnknownSchemaVersionError, type EventSchemas } from './upcasting.js';

const schemas: EventSchemas = {
  // v2 added `currency`; v3 renamed `qty` to `quantity`.
  ItemAdded: {
    version: 3,
    upcasters: {
      1: (data) => ({ ...data, currency: 'EUR' }),
      2: ({ qty, ...rest }) => ({ ...rest, quantity: qty }),
    },
  },
  Gap: { version: 3, upcasters: { 2: (data) => data } },
};

const recorded = (type: string, data: Record<string, unknown>, schemaVersion: number): RecordedEvent => ({
  id: 'e1',
  type,
  data,
  metadata: { correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: '2026-12-01T00:00:00.000Z', schemaVersion },
  streamName: 's-1',
  revision: 0,
  position: 1,
  recordedAt: '2026-12-01T00:00:00.000Z',
});

describe('event upcasting', () => {
  it('upcasts an old event one version at a time to the current shape, and says so in its metadata', () => {
    const v1 = recorded('ItemAdded', { sku: 'a', qty: 2 }, 1);
    const current = upcastEvent(schemas, v1);
    expect(current.data).toEqual({ sku: 'a', currency: 'EUR', quantity: 2 });
    expect(current.metadata.schemaVersion).toBe(3);
    expect(v1.data).toEqual({ sku: 'a', qty: 2 }); // what was read is not changed
    expect(upcastEvent(schemas, recorded('ItemAdded', { sku: 'a', qty: 2, currency: 'USD' }, 2)).data).toEqual({ sku: 'a', currency: 'USD', quantity: 2 });
  });

  it('leaves current events, newer ones and types without a schema as they are', () => {
    for (const event of [recorded('ItemAdded', { quantity: 1 }, 3), recorded('ItemAdded', { quantity: 1, extra: true }, 4), recorded('Other', { x: 1 }, 1)]) {
      expect(upcastEvent(schemas, event)).toBe(event);
    }
    expect(schemaVersionOf(schemas, 'ItemAdded')).toBe(3);
    expect(schemaVersionOf(schemas, 'Other')).toBe(1);
  });

  it('refuses a version it has no upcaster for, naming the type and versions', () => {
    expect(() => upcastEvent(schemas, recorded('Gap', {}, 1))).toThrow(UnknownSchemaVersionError);
    expect(() => upcastEvent(schemas, recorded('Gap', {}, 1))).toThrow(/Gap has no upcaster from schema version 1 \(current: 3\)/);
  });
});
