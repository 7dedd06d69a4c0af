import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deciderSpec } from '../../platform/eventsourcing/testing.js';
import { emailDecider, emailStream, userDecider, type RegisterUser } from './decider.js';
import type { UserRegistered } from './events.js';

const at = '2026-11-23T10:00:00.000Z';
const spec = deciderSpec(userDecider);

function fixture() {
  const userId = randomUUID();
  const register: RegisterUser = { type: 'RegisterUser', userId, email: ' Ada@Example.COM ', name: ' Ada ', role: 'CUSTOMER', passwordHash: 'scrypt$x', at };
  const registered: UserRegistered = { type: 'UserRegistered', data: { userId, email: 'ada@example.com', name: 'Ada', role: 'CUSTOMER', passwordHash: 'scrypt$x', timeZone: 'UTC', registeredAt: at } };
  return { userId, register, registered };
}

describe('RegisterUser', () => {
  it('registers with a normalised email and trimmed name', () => {
    const f = fixture();
    spec.given([]).when(f.register).then([f.registered]);
  });
  it.each([
    ['an invalid email', { email: 'not-an-email' }, ['input', 'email']],
    ['an empty email', { email: ' ' }, ['input', 'email']],
    ['an empty name', { name: '' }, ['input', 'name']],
  ] as const)('rejects %s', (_, change, field) => {
    const f = fixture();
    spec.given([]).when({ ...f.register, ...change }).thenFails({ code: 'INVALID_INPUT', field: [...field] });
  });
  it('rejects registering the same user twice', () => {
    const f = fixture();
    spec.given([f.registered]).when(f.register).thenFails({ code: 'ALREADY_EXISTS' });
  });
});

describe('UpdateProfile', () => {
  it('renames for the user themself or an admin, refuses anyone else', () => {
    const f = fixture();
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, name: 'Ada L.', by: { userId: f.userId, role: 'CUSTOMER' }, at }).then([
      { type: 'ProfileUpdated', data: { userId: f.userId, name: 'Ada L.', updatedAt: at } },
    ]);
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, name: 'X', by: { userId: randomUUID(), role: 'ADMIN' }, at }).then([
      { type: 'ProfileUpdated', data: { userId: f.userId, name: 'X', updatedAt: at } },
    ]);
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, name: 'X', by: { userId: randomUUID(), role: 'SELLER' }, at }).thenFails({ code: 'FORBIDDEN' });
  });
  it('does nothing when the name is unchanged, and rejects an empty one', () => {
    const f = fixture();
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, name: 'Ada', by: { userId: f.userId, role: 'CUSTOMER' }, at }).thenNothingHappens();
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, name: ' ', by: { userId: f.userId, role: 'CUSTOMER' }, at }).thenFails({ code: 'INVALID_INPUT', field: ['input', 'name'] });
  });
});

describe('time zones', () => {
  it('registers with a chosen IANA zone (trimmed), UTC by default, and rejects others', () => {
    const f = fixture();
    spec.given([]).when({ ...f.register, timeZone: ' Asia/Kathmandu ' }).then([{ ...f.registered, data: { ...f.registered.data, timeZone: 'Asia/Kathmandu' } }]);
    spec.given([]).when({ ...f.register, timeZone: 'Mars/Olympus_Mons' }).thenFails({ code: 'INVALID_INPUT', field: ['input', 'timeZone'] });
  });
  it('changes the zone alone (the name stays), and does nothing for the same zone', () => {
    const f = fixture();
    const by = { userId: f.userId, role: 'CUSTOMER' } as const;
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, timeZone: 'Europe/Paris', by, at }).then([
      { type: 'ProfileUpdated', data: { userId: f.userId, name: 'Ada', timeZone: 'Europe/Paris', updatedAt: at } },
    ]);
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, timeZone: 'UTC', by, at }).thenNothingHappens();
    spec.given([f.registered]).when({ type: 'UpdateProfile', userId: f.userId, timeZone: '', by, at }).thenFails({ code: 'INVALID_INPUT', field: ['input', 'timeZone'] });
  });
});

describe('ClaimEmail', () => {
  const claim = deciderSpec(emailDecider);
  it('lets the first claim win and refuses another user', () => {
    const a = randomUUID();
    claim.given([]).when({ type: 'ClaimEmail', userId: a, at }).then([{ type: 'EmailClaimed', data: { userId: a, claimedAt: at } }]);
    claim.given([{ type: 'EmailClaimed', data: { userId: a, claimedAt: at } }]).when({ type: 'ClaimEmail', userId: randomUUID(), at }).thenFails({ code: 'ALREADY_EXISTS', field: ['input', 'email'] });
    claim.given([{ type: 'EmailClaimed', data: { userId: a, claimedAt: at } }]).when({ type: 'ClaimEmail', userId: a, at }).thenNothingHappens();
  });
  it('maps differently written forms of one address to one stream', () => {
    expect(emailStream(' Ada@Example.com')).toBe(emailStream('ada@example.COM '));
    expect(emailStream('ada@example.com')).not.toBe(emailStream('bob@example.com'));
  });
});
