import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import type { ProjectionTarget } from '../../projections/projection.js';
import { USER_PROFILES, userProfilesFeed, type UserProfileDoc } from './profile-feed.js';

const userId = randomUUID();
let position = 0;
const recorded = (type: string, data: Record<string, unknown>): RecordedEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata: { correlationId: userId, causationId: userId, actor: userId, occurredAt: '2026-12-01T00:00:00.000Z', schemaVersion: 1 },
  streamName: `user-${userId}`,
  revision: position,
  position: ++position,
  recordedAt: '2026-12-01T00:00:00.000Z',
});

describe('user-profiles feed', () => {
  it('keeps only the public profile, announces every change of it, and nothing for an event applied twice', async () => {
    const documents = new MemoryDocumentStore();
    const target: ProjectionTarget = { collection: (name) => documents.collection(name) };
    const registered = recorded('UserRegistered', { userId, email: 'ada@example.test', name: 'Ada', role: 'SELLER', passwordHash: 'secret-hash', registeredAt: '2026-12-01T00:00:00.000Z' });
    const renamed = recorded('ProfileUpdated', { userId, name: 'Ada L.', updatedAt: '2026-12-01T00:01:00.000Z' });
    expect(await userProfilesFeed.apply(registered, target)).toEqual({ changed: true, responseTags: [`User:${userId}`, 'User:*'] });
    expect(await userProfilesFeed.apply(renamed, target)).toEqual({ changed: true, responseTags: [`User:${userId}`, 'User:*'] });
    expect(await userProfilesFeed.apply(renamed, target)).toEqual({ changed: false });
    const doc = await documents.collection<UserProfileDoc>(USER_PROFILES).get(userId);
    expect(doc).toMatchObject({ _id: userId, name: 'Ada L.', role: 'SELLER' });
    expect(JSON.stringify(doc)).not.toMatch(/ada@example|secret-hash/);
    expect(userProfilesFeed.handles(recorded('EmailClaimed', { userId, claimedAt: '' }))).toBe(false);
  });
});
