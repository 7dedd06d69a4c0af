import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Doc, DocumentStore } from './document-store.js';

interface Item extends Doc {
  name: string;
  category: string;
  price: { amount: number; currency: string };
  stock: number;
  createdAt: string;
}

/** The one contract every DocumentStore adapter passes. Collection names are fresh per test. */
export function documentStoreContract(name: string, open: () => Promise<DocumentStore>): void {
  describe(`DocumentStore contract: ${name}`, () => {
    let store: DocumentStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });
    const collectionName = () => `test_${randomUUID().replaceAll('-', '')}`;
    const item = (n: number, overrides: Partial<Item> = {}): Item => ({
      _id: `item-${String(n).padStart(3, '0')}`,
      name: `Item ${n}`,
      category: n % 2 === 0 ? 'even' : 'odd',
      price: { amount: 100 * ((n % 5) + 1), currency: 'EUR' },
      stock: n % 3,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      ...overrides,
    });
    const seed = async (count: number) => {
      const name = collectionName();
      const c = store.collection<Item>(name);
      for (let n = 1; n <= count; n++) await c.upsertIfNewer(item(n), n);
      return c;
    };

    it('gets what it upserted, and nothing for an unknown id', async () => {
      const c = store.collection<Item>(collectionName());
      expect(await c.upsertIfNewer(item(1), 10)).toBe(true);
      expect(await c.get('item-001')).toMatchObject({ ...item(1), _position: 10 });
      expect(await c.get('nope')).toBeUndefined();
    });

    it('ignores a write at an older or equal position, applies a newer one', async () => {
      const c = store.collection<Item>(collectionName());
      await c.upsertIfNewer(item(1, { stock: 5 }), 10);
      expect(await c.upsertIfNewer(item(1, { stock: 1 }), 9)).toBe(false);
      expect(await c.upsertIfNewer(item(1, { stock: 2 }), 10)).toBe(false);
      expect((await c.get('item-001'))?.stock).toBe(5);
      expect(await c.upsertIfNewer(item(1, { stock: 7 }), 11)).toBe(true);
      expect((await c.get('item-001'))?.stock).toBe(7);
    });

    it('deletes only with a newer position', async () => {
      const c = store.collection<Item>(collectionName());
      await c.upsertIfNewer(item(1), 10);
      expect(await c.deleteIfNewer('item-001', 10)).toBe(false);
      expect(await c.get('item-001')).toBeDefined();
      expect(await c.deleteIfNewer('item-001', 11)).toBe(true);
      expect(await c.get('item-001')).toBeUndefined();
    });

    it('writes many in one call, each guarded by its position', async () => {
      const c = store.collection<Item>(collectionName());
      await c.upsertIfNewer(item(1, { stock: 1 }), 10);
      await c.upsertIfNewer(item(2, { stock: 2 }), 10);
      await c.upsertIfNewer(item(3), 10);
      const applied = await c.writeManyIfNewer([
        { id: 'item-001', doc: item(1, { stock: 9 }), position: 9 }, // older: ignored
        { id: 'item-002', doc: item(2, { stock: 8 }), position: 11 }, // newer: applied
        { id: 'item-003', doc: null, position: 12 }, // delete
        { id: 'item-004', doc: item(4), position: 5 }, // new document
      ]);
      expect(applied).toBe(3);
      expect((await c.get('item-001'))?.stock).toBe(1);
      expect(await c.get('item-002')).toMatchObject({ stock: 8, _position: 11 });
      expect(await c.get('item-003')).toBeUndefined();
      expect(await c.get('item-004')).toMatchObject({ _position: 5 });
      expect(await c.writeManyIfNewer([])).toBe(0);
    });

    it('writes many with what the caller knows of the stored documents; a stale hint never makes a wrong write', async () => {
      const c = store.collection<Item>(collectionName());
      await c.upsertIfNewer(item(1, { stock: 1 }), 10);
      await c.upsertIfNewer(item(2, { stock: 2 }), 20);
      await c.upsertIfNewer(item(3, { stock: 3 }), 20);
      await c.upsertIfNewer(item(5, { stock: 5 }), 10);
      const applied = await c.writeManyIfNewer([
        { id: 'item-001', doc: item(1, { stock: 9 }), position: 11, stored: 10 }, // right hint: applied
        { id: 'item-002', doc: item(2, { stock: 9 }), position: 15, stored: null }, // says absent, is newer: ignored
        { id: 'item-003', doc: item(3, { stock: 9 }), position: 15, stored: 5 }, // says older, is newer: ignored
        { id: 'item-004', doc: item(4, { stock: 9 }), position: 4, stored: 3 }, // says present, is absent: written
        { id: 'item-005', doc: null, position: 12, stored: null }, // says absent, is older: deleted
      ]);
      expect(applied).toBe(3);
      expect(await c.get('item-001')).toMatchObject({ stock: 9, _position: 11 });
      expect(await c.get('item-002')).toMatchObject({ stock: 2, _position: 20 });
      expect(await c.get('item-003')).toMatchObject({ stock: 3, _position: 20 });
      expect(await c.get('item-004')).toMatchObject({ stock: 9, _position: 4 });
      expect(await c.get('item-005')).toBeUndefined();
    });

    it('applies writes to one document in the order given', async () => {
      const c = store.collection<Item>(collectionName());
      const applied = await c.writeManyIfNewer([
        { id: 'item-001', doc: item(1, { stock: 1 }), position: 1 },
        { id: 'item-002', doc: item(2), position: 2 },
        { id: 'item-001', doc: item(1, { stock: 3 }), position: 3 },
        { id: 'item-002', doc: null, position: 4 },
        { id: 'item-001', doc: item(1, { stock: 2 }), position: 2 }, // older than the one before: ignored
      ]);
      expect(applied).toBe(4);
      expect(await c.get('item-001')).toMatchObject({ stock: 3, _position: 3 });
      expect(await c.get('item-002')).toBeUndefined();
    });

    it('a new version reads what it wrote and nothing else', async () => {
      const name = collectionName();
      await store.collection<Item>(name).upsertIfNewer(item(1), 1); // in the live version only
      const version = await store.createVersion<Item>(name);
      expect(await version.collection.get('item-001')).toBeUndefined();
      await version.collection.writeManyIfNewer([
        { id: 'item-001', doc: item(1, { stock: 7 }), position: 5 },
        { id: 'item-002', doc: item(2), position: 6 },
      ]);
      await version.collection.upsertIfNewer(item(3), 7);
      expect((await version.collection.getMany(['item-001', 'item-002', 'item-003', 'item-004'])).map((d) => d._id)).toEqual(['item-001', 'item-002', 'item-003']);
      expect(await version.collection.upsertIfNewer(item(1, { stock: 1 }), 5)).toBe(false);
      await version.collection.writeManyIfNewer([{ id: 'item-002', doc: null, position: 8 }]);
      expect(await version.collection.get('item-002')).toBeUndefined();
      await version.activate();
      expect(await store.collection<Item>(name).get('item-001')).toMatchObject({ stock: 7, _position: 5 });
    });

    it('gets many in the order asked, skipping unknown ids', async () => {
      const c = await seed(5);
      const docs = await c.getMany(['item-004', 'nope', 'item-002']);
      expect(docs.map((d) => d._id)).toEqual(['item-004', 'item-002']);
    });

    it('filters by equality, ranges on nested fields, $in, case-insensitive regex, and counts', async () => {
      const c = await seed(20);
      const page = await c.find({ first: 100, filter: { category: 'even', 'price.amount': { $gte: 300, $lte: 400 }, stock: { $gt: 0 } } });
      const expected = Array.from({ length: 20 }, (_, i) => item(i + 1)).filter((d) => d.category === 'even' && d.price.amount >= 300 && d.price.amount <= 400 && d.stock > 0);
      expect(page.items.map((d) => d._id)).toEqual(expected.map((d) => d._id));
      expect(await c.count({ category: 'even', 'price.amount': { $gte: 300, $lte: 400 }, stock: { $gt: 0 } })).toBe(expected.length);
      expect((await c.find({ first: 100, filter: { name: { $regex: 'item 1\\d', $options: 'i' } } })).items).toHaveLength(10);
      expect((await c.find({ first: 100, filter: { _id: { $in: ['item-003', 'item-007'] } } })).items).toHaveLength(2);
      expect(await c.count()).toBe(20);
      expect(await c.count({ $or: [{ category: 'odd' }, { stock: 0 }] })).toBe(Array.from({ length: 20 }, (_, i) => item(i + 1)).filter((d) => d.category === 'odd' || d.stock === 0).length);
    });

    it('pages through a sort with ties using cursors, visiting every match exactly once in order', async () => {
      const c = await seed(23);
      const all = Array.from({ length: 23 }, (_, i) => item(i + 1)).sort((a, b) => b.price.amount - a.price.amount || (a._id < b._id ? -1 : 1));
      const seen: string[] = [];
      let after: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page = await c.find({ first: 5, sort: [['price.amount', -1]], after });
        seen.push(...page.items.map((d) => d._id));
        expect(page.cursors).toHaveLength(page.items.length);
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      expect(seen).toEqual(all.map((d) => d._id));
    });

    it('keeps paging correctly when a document is added between pages', async () => {
      const c = await seed(6);
      const first = await c.find({ first: 3, sort: [['createdAt', 1]] });
      await c.upsertIfNewer(item(0), 100); // sorts before everything already seen
      const second = await c.find({ first: 10, sort: [['createdAt', 1]], after: first.endCursor });
      expect([...first.items, ...second.items].map((d) => d._id)).toEqual(['item-001', 'item-002', 'item-003', 'item-004', 'item-005', 'item-006']);
    });

    it('rejects a malformed cursor with a validation error', async () => {
      const c = await seed(2);
      await expect(c.find({ first: 1, after: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('compare-and-set: inserts only when absent, replaces only what matches, and keeps position guards working', async () => {
      const c = store.collection<Item>(collectionName());
      expect(await c.replaceIf(item(1, { stock: 1 }), 1, null)).toBe(true);
      expect(await c.replaceIf(item(1, { stock: 9 }), 1, null)).toBe(false); // there is one
      expect(await c.replaceIf(item(1, { stock: 2 }), 2, { stock: 5 })).toBe(false); // does not match
      expect(await c.replaceIf(item(1, { stock: 2 }), 2, { stock: 1, name: 'Item 1' })).toBe(true);
      expect(await c.replaceIf(item(1, { stock: 3 }), 3, { stock: { $lte: 2 } })).toBe(true);
      expect(await c.replaceIf(item(2), 1, { stock: 0 })).toBe(false); // none stored: nothing written
      expect(await c.get('item-002')).toBeUndefined();
      expect(await c.get('item-001')).toMatchObject({ stock: 3, _position: 3 });
      expect(await c.upsertIfNewer(item(1, { stock: 4 }), 3)).toBe(false);
      expect(await c.upsertIfNewer(item(1, { stock: 4 }), 4)).toBe(true);
    });

    it('builds a new version aside while the old one serves, then switches to it', async () => {
      const name = collectionName();
      const live = store.collection<Item>(name);
      await live.upsertIfNewer(item(1, { name: 'old' }), 1);
      const version = await store.createVersion<Item>(name);
      await version.collection.upsertIfNewer(item(1, { name: 'new' }), 1);
      await version.collection.upsertIfNewer(item(2, { name: 'new' }), 2);
      expect((await live.get('item-001'))?.name).toBe('old');
      expect(await live.count()).toBe(1);
      await version.activate();
      expect((await live.get('item-001'))?.name).toBe('new');
      expect(await live.count()).toBe(2);
      expect(await store.physicalName(name)).toBe(version.physicalName);
    });

    it('switches new versions of several collections together, again and again', async () => {
      const [a, b] = [collectionName(), collectionName()];
      await store.collection<Item>(a).upsertIfNewer(item(1, { name: 'a0' }), 1);
      await store.collection<Item>(b).upsertIfNewer(item(1, { name: 'b0' }), 1);
      const first = [await store.createVersion<Item>(a), await store.createVersion<Item>(b)];
      await first[0]!.collection.upsertIfNewer(item(1, { name: 'a1' }), 1);
      await first[1]!.collection.upsertIfNewer(item(1, { name: 'b1' }), 1);
      expect((await store.collection<Item>(a).get('item-001'))?.name).toBe('a0');
      await store.activateTogether(first);
      expect((await store.collection<Item>(a).get('item-001'))?.name).toBe('a1');
      expect((await store.collection<Item>(b).get('item-001'))?.name).toBe('b1');
      expect([await store.physicalName(a), await store.physicalName(b)]).toEqual(first.map((v) => v.physicalName));
      const second = [await store.createVersion<Item>(a), await store.createVersion<Item>(b)];
      await second[0]!.collection.upsertIfNewer(item(1, { name: 'a2' }), 1);
      await second[1]!.collection.upsertIfNewer(item(1, { name: 'b2' }), 1);
      await store.activateTogether(second);
      expect((await store.collection<Item>(a).get('item-001'))?.name).toBe('a2');
      expect((await store.collection<Item>(b).get('item-001'))?.name).toBe('b2');
      // A version being built starts empty whatever was switched before.
      const third = await store.createVersion<Item>(a);
      expect(await third.collection.get('item-001')).toBeUndefined();
      await third.discard();
    });

    it('discards a version without touching the live one', async () => {
      const name = collectionName();
      const live = store.collection<Item>(name);
      await live.upsertIfNewer(item(1), 1);
      const version = await store.createVersion<Item>(name);
      await version.collection.upsertIfNewer(item(2), 2);
      await version.discard();
      expect((await live.find({ first: 10 })).items.map((d) => d._id)).toEqual(['item-001']);
    });
  });
}
