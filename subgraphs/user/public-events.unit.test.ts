import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import { USER_TOPIC, userPublicEvents } from './public-events.js';

const recorded = (type: string, data: Record<string, unknown>): RecordedEvent =>
  ({ id: 'e1', type, data, stream: 'user-u1', revision: 0, position: 1, metadata: { occurredAt: '2026-12-02T00:00:00.000Z' } }) as unknown as RecordedEvent;

describe('the user public contract', () => {
  it('publishes a registration keyed by user id, without the password hash', () => {
    const published = userPublicEvents(recorded('UserRegistered', { userId: 'u1', email: 'ada@example.com', name: 'Ada', role: 'SELLER', passwordHash: 'scrypt$secret', registeredAt: '2026-12-02T00:00:00.000Z' }));
    expect(published).toEqual({ topic: USER_TOPIC, key: 'u1', type: 'UserRegistered.v1', value: { userId: 'u1', email: 'ada@example.com', name: 'Ada', role: 'SELLER', timeZone: 'UTC', occurredAt: '2026-12-02T00:00:00.000Z' } });
    expect(JSON.stringify(published)).not.toContain('scrypt');
  });

  it('publishes profile changes and keeps e-mail claims internal', () => {
    expect(userPublicEvents(recorded('ProfileUpdated', { userId: 'u1', name: 'Ada L.', updatedAt: 'x' }))).toMatchObject({ type: 'ProfileUpdated.v1', key: 'u1', value: { name: 'Ada L.' } });
    expect(userPublicEvents(recorded('ProfileUpdated', { userId: 'u1', name: 'Ada', timeZone: 'Asia/Kathmandu', updatedAt: 'x' }))).toMatchObject({ value: { timeZone: 'Asia/Kathmandu' } });
    expect(userPublicEvents(recorded('EmailClaimed', { userId: 'u1', claimedAt: 'x' }))).toBeUndefined();
  });
});
