import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { createLogger } from '../platform/logging.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { CHECKPOINTS } from './lag.js';
import { LeaseLostError, ProjectionLease, type LeaseOptions } from './lease.js';

const options: LeaseOptions = { ttlMs: 5000, renewMs: 1000 };

/** A process's monotonic clock, moved by the test (each process has its own). */
class Clock {
  constructor(public at = 1_000_000) {}
  readonly now = () => this.at;
}

/** The lease's contract, run on the embedded store and on the real one (FerretDB / MongoDB). */
function leaseContract(name: string, open: () => Promise<DocumentStore>): void {
  describe(`projection lease: ${name}`, () => {
    let store: DocumentStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });
    /** Two processes contending for a fresh projection's lease, each on its own clock. */
    const contenders = () => {
      const projection = `p-${randomUUID().slice(0, 8)}`;
      const a = { clock: new Clock(), owner: `a-${randomUUID().slice(0, 4)}` };
      const b = { clock: new Clock(5_000_000), owner: `b-${randomUUID().slice(0, 4)}` };
      return {
        projection,
        a: { ...a, lease: new ProjectionLease(store, projection, a.owner, options, a.clock.now) },
        b: { ...b, lease: new ProjectionLease(store, projection, b.owner, options, b.clock.now) },
      };
    };
    const advance = (ms: number, ...clocks: Clock[]) => clocks.forEach((c) => (c.at += ms));

    it('acquires a lease nobody holds; another process then cannot', async () => {
      const { a, b } = contenders();
      expect(await a.lease.tryAcquire()).toBe(true);
      expect(a.lease.holds).toBe(true);
      expect(a.lease.epoch).toBe(1);
      expect(a.lease.tookOver).toBe(false);
      expect(await b.lease.tryAcquire()).toBe(false);
      expect(b.lease.holds).toBe(false);
    });

    it('a renewed lease is never taken, however long it is held', async () => {
      const { a, b } = contenders();
      await a.lease.tryAcquire();
      for (let i = 0; i < 12; i++) {
        advance(1000, a.clock, b.clock);
        expect(await a.lease.renew()).toBe(true);
        expect(await b.lease.tryAcquire()).toBe(false);
      }
      expect(a.lease.holds).toBe(true);
      expect(a.lease.epoch).toBe(1);
    });

    it('expires when not renewed: the holder stops writing before a standby can take it; the standby takes it with the next epoch', async () => {
      const { a, b } = contenders();
      await a.lease.tryAcquire();
      advance(500, a.clock, b.clock);
      expect(await b.lease.tryAcquire()).toBe(false); // sees version 1, counts from now
      advance(3499, a.clock, b.clock); // a: 3.999 s since it sent its acquisition
      expect(a.lease.holds).toBe(true);
      advance(1, a.clock, b.clock); // a: TTL - renew interval: a stops writing
      expect(a.lease.holds).toBe(false);
      advance(1490, a.clock, b.clock); // b: 4.99 s since it first saw the lease unchanged
      expect(await b.lease.tryAcquire()).toBe(false);
      advance(10, a.clock, b.clock); // b: TTL
      expect(await b.lease.tryAcquire()).toBe(true);
      expect(b.lease.epoch).toBe(2);
      expect(b.lease.tookOver).toBe(true);
      expect(await a.lease.renew()).toBe(false); // taken: refused
      expect(await a.lease.tryAcquire()).toBe(false);
    });

    it('a released lease is taken at the next look, without waiting for the TTL', async () => {
      const { a, b } = contenders();
      await a.lease.tryAcquire();
      expect(await b.lease.tryAcquire()).toBe(false);
      await a.lease.release();
      expect(a.lease.holds).toBe(false);
      expect(await b.lease.tryAcquire()).toBe(true);
      expect(b.lease.epoch).toBe(2);
    });

    it('two standbys racing for an expired lease: exactly one gets it', async () => {
      const { projection, a, b } = contenders();
      await a.lease.tryAcquire();
      const c = { clock: new Clock(9_000_000) };
      const cLease = new ProjectionLease(store, projection, 'c', options, c.clock.now);
      expect(await b.lease.tryAcquire()).toBe(false);
      expect(await cLease.tryAcquire()).toBe(false);
      advance(5000, b.clock, c.clock);
      const won = await Promise.all([b.lease.tryAcquire(), cLease.tryAcquire()]);
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('fencing: after a takeover, the old holder cannot move the checkpoint, even if its clock says it still holds the lease', async () => {
      const { a, b } = contenders();
      const id = `${randomUUID()}@test`;
      await a.lease.tryAcquire();
      expect(await a.lease.claimCheckpoint(id)).toBe(0);
      expect(await a.lease.saveCheckpoint(id, 10)).toBe(true);
      // a's process stalls (its clock does not move: a GC pause, a frozen VM) while b takes over.
      expect(await b.lease.tryAcquire()).toBe(false);
      advance(5000, b.clock);
      expect(await b.lease.tryAcquire()).toBe(true);
      expect(await b.lease.claimCheckpoint(id)).toBe(10);
      expect(a.lease.holds).toBe(true); // a does not know yet
      expect(await a.lease.saveCheckpoint(id, 20)).toBe(false); // stale epoch: refused
      expect(a.lease.holds).toBe(false); // and a now knows
      expect(await store.collection<{ _id: string; position: number }>(CHECKPOINTS).get(id)).toMatchObject({ position: 10 }); // readers: not moved
      expect(await b.lease.saveCheckpoint(id, 15)).toBe(true);
      expect(await store.collection<{ _id: string; position: number; epoch: number }>(CHECKPOINTS).get(id)).toMatchObject({ position: 15, epoch: 2 });
      await expect(a.lease.claimCheckpoint(id)).rejects.toBeInstanceOf(LeaseLostError);
      // The next holder resumes from what b saved, not from what a tried to.
      const c = new ProjectionLease(store, a.lease.projection, 'c', options, new Clock(9_000_000).now);
      await b.lease.release();
      expect(await c.tryAcquire()).toBe(true);
      expect(await c.claimCheckpoint(id)).toBe(15);
    });

    it('fencing under a race: a stale holder saving while the next one takes the lease and claims never moves the checkpoint the next one resumes from', async () => {
      // FerretDB v1's conditional replace is a read then a write: a claim made by replacing the
      // checkpoint could be overwritten by the old holder's save landing just after it. Claims are inserts.
      for (let round = 0; round < 20; round++) {
        const { projection, a, b } = contenders();
        const id = `${randomUUID()}@test`;
        await a.lease.tryAcquire();
        await a.lease.claimCheckpoint(id);
        expect(await a.lease.saveCheckpoint(id, 10)).toBe(true);
        expect(await b.lease.tryAcquire()).toBe(false);
        advance(5000, b.clock); // a's clock stands still: it believes it holds the lease
        // a keeps saving (four at a time, positions 11, 12, …) until it learns it lost, while b takes over and claims.
        let next = 10;
        const saving = async () => {
          while (a.lease.holds) {
            const position = ++next;
            await a.lease.saveCheckpoint(id, position);
            if (next > 1000) throw new Error(`round ${round}: a never learnt that it lost the lease (the checkpoint: ${JSON.stringify(await store.collection(CHECKPOINTS).get(id))})`);
            await sleep(5); // a few saves in flight at any time, not so many that b's claim never gets a turn
          }
        };
        const [claimed] = await Promise.all([
          (async () => {
            expect(await b.lease.tryAcquire()).toBe(true);
            return b.lease.claimCheckpoint(id);
          })(),
          saving(),
          saving(),
          saving(),
          saving(),
        ]);
        expect(claimed, `round ${round}: b resumes from a position a saved`).toBeGreaterThanOrEqual(10);
        expect(claimed).toBeLessThanOrEqual(next);
        // b moves on; a, late, saves once more (as a process frozen since before the takeover would).
        expect(await b.lease.saveCheckpoint(id, claimed + 5), `round ${round}: b's checkpoint is b's`).toBe(true);
        await a.lease.saveCheckpoint(id, 30);
        expect(a.lease.holds).toBe(false);
        const c = new ProjectionLease(store, projection, `c-${round}`, options, new Clock(9_000_000).now);
        await b.lease.release();
        expect(await c.tryAcquire()).toBe(true);
        expect(await c.claimCheckpoint(id), `round ${round}: the next holder resumes from b's checkpoint`).toBe(claimed + 5);
      }
    });

    it('claiming again under the same epoch (the projector restarted) resumes from what the epoch saved; the epochs before the previous one are removed', async () => {
      const { projection, a } = contenders();
      const id = `${randomUUID()}@test`;
      await a.lease.tryAcquire();
      await a.lease.claimCheckpoint(id);
      expect(await a.lease.saveCheckpoint(id, 7)).toBe(true);
      expect(await a.lease.claimCheckpoint(id)).toBe(7);
      let holder = a.lease;
      for (let i = 0; i < 3; i++) {
        await holder.release();
        const next = new ProjectionLease(store, projection, `n-${i}`, options, new Clock().now);
        expect(await next.tryAcquire()).toBe(true);
        expect(await next.claimCheckpoint(id)).toBe(7 + i);
        expect(await next.saveCheckpoint(id, 8 + i)).toBe(true);
        holder = next;
      }
      const epochs = (await store.collection<{ _id: string; checkpoint?: string; epoch: number }>(CHECKPOINTS).find({ filter: { checkpoint: id }, first: 10 })).items.map((d) => d.epoch);
      expect(epochs.sort()).toEqual([holder.epoch - 1, holder.epoch]);
    });

    it('claims a checkpoint written before leases existed (no epoch) and keeps its position', async () => {
      const { a } = contenders();
      const id = `${randomUUID()}@test`;
      await store.collection<{ _id: string; position: number }>(CHECKPOINTS).upsertIfNewer({ _id: id, position: 42 }, 42);
      await a.lease.tryAcquire();
      expect(await a.lease.claimCheckpoint(id)).toBe(42);
      expect(await a.lease.saveCheckpoint(id, 43)).toBe(true);
      // Readers that know nothing of leases still read the position.
      expect((await store.collection<{ _id: string; position: number }>(CHECKPOINTS).get(id))?.position).toBe(43);
    });

    it('a holder whose margin ran out is not renewed, but takes the lease again (same epoch) when nobody replaced it', async () => {
      const { a } = contenders();
      await a.lease.tryAcquire();
      advance(4500, a.clock);
      expect(a.lease.holds).toBe(false);
      expect(await a.lease.renew()).toBe(false); // lapsed: not renewed behind the projector's back (it stopped writing)
      expect(a.lease.holds).toBe(false);
      expect(await a.lease.tryAcquire()).toBe(true);
      expect(a.lease.epoch).toBe(1);
      expect(a.lease.holds).toBe(true);
    });
  });
}

leaseContract('embedded in-memory', () => Promise.resolve(new MemoryDocumentStore()));

withServer('MONGODB_URL', 'projection lease: MongoDB', (base) => {
  const { url, database } = freshMongoUrl(base);
  afterAll(async () => {
    const client = await MongoClient.connect(url);
    await client.db(database).dropDatabase();
    await client.close();
  });
  leaseContract('MongoDB', () => MongoDocumentStore.connect(url, createLogger('test', 'silent')));
});
