import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { CallerSigner, readCaller, signCaller } from './internal-identity.js';
import { burnVerification, hashPassword, verifyPassword } from './passwords.js';
import { InvalidTokenError, issueToken, verifyToken, type TokenSettings } from './tokens.js';

const fast = { N: 2 ** 10, r: 8, p: 1 };
const settings: TokenSettings = { secret: new TextEncoder().encode('k'.repeat(32)), issuer: 'storefront', audience: 'storefront-api', ttlSeconds: 60 };

describe('passwords', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse', fast);
    const b = await hashPassword('correct horse', fast);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
    await burnVerification('anything', fast);
  });
});

describe('tokens', () => {
  const identity = { userId: randomUUID(), role: 'SELLER' as const };

  it('round-trips a token with sub, role, iat, exp, iss and aud', async () => {
    const token = await issueToken(identity, settings);
    const verified = await verifyToken(token, settings);
    expect(verified).toMatchObject(identity);
    expect(verified.claims).toMatchObject({ iss: 'storefront', aud: 'storefront-api', sub: identity.userId, role: 'SELLER' });
    expect(typeof verified.claims.iat).toBe('number');
    expect(verified.claims.exp).toBe((verified.claims.iat as number) + 60);
  });

  it.each([
    ['expired', () => issueToken(identity, settings, new Date(Date.now() - 3600_000))],
    ['signed with another key', () => issueToken(identity, { ...settings, secret: new TextEncoder().encode('o'.repeat(32)) })],
    ['for another audience', () => issueToken(identity, { ...settings, audience: 'someone-else' })],
    ['from another issuer', () => issueToken(identity, { ...settings, issuer: 'evil' })],
    ['unsigned (alg: none)', () => Promise.resolve(new UnsecuredJWT({ role: 'ADMIN' }).setSubject(identity.userId).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').encode())],
    ['HS512 instead of HS256', () => new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS512' }).setSubject(identity.userId).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').sign(settings.secret)],
    ['with an unknown role', () => new SignJWT({ role: 'ROOT' }).setProtectedHeader({ alg: 'HS256' }).setSubject(identity.userId).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').sign(settings.secret)],
    ['tampered', async () => (await issueToken(identity, settings)).replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ sub: identity.userId, role: 'ADMIN' })).toString('base64url')}.`)],
  ])('refuses a token %s', async (_, make) => {
    await expect(verifyToken(await make(), settings)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('a token verified once (and kept) is still refused under another issuer or audience with the same key', async () => {
    const token = await issueToken(identity, settings);
    await verifyToken(token, settings);
    await expect(verifyToken(token, { ...settings, issuer: 'evil' })).rejects.toBeInstanceOf(InvalidTokenError);
    await expect(verifyToken(token, { ...settings, audience: 'someone-else' })).rejects.toBeInstanceOf(InvalidTokenError);
    expect(await verifyToken(token, settings)).toMatchObject(identity);
  });
});

describe('internal identity', () => {
  const secret = new TextEncoder().encode('i'.repeat(32));
  it('carries the caller to subgraphs, and anything unsigned or foreign reads as anonymous', async () => {
    const caller = { identity: { userId: randomUUID(), role: 'ADMIN' as const }, clientAddress: '127.0.0.1' };
    expect(await readCaller(await signCaller(caller, secret), secret)).toEqual(caller);
    expect(await readCaller(await signCaller(caller, new TextEncoder().encode('x'.repeat(32))), secret)).toEqual({ identity: undefined, clientAddress: undefined });
    expect(await readCaller('{"userId":"me","role":"ADMIN"}', secret)).toEqual({ identity: undefined, clientAddress: undefined });
    expect(await readCaller(undefined, secret)).toEqual({ identity: undefined, clientAddress: undefined });
  });
});

describe('CallerSigner', () => {
  it('reuses a token per caller until a minute before it expires', async () => {
    const secret = new TextEncoder().encode('i'.repeat(32));
    let now = Date.now();
    const signer = new CallerSigner(secret, () => now);
    const a = { identity: { userId: randomUUID(), role: 'SELLER' as const }, clientAddress: '10.0.0.1' };
    const first = await signer.sign(a);
    expect(await signer.sign(a)).toBe(first);
    expect(await signer.sign({ ...a, clientAddress: '10.0.0.2' })).not.toBe(first);
    now += 4 * 60_000 + 1;
    expect(await readCaller(await signer.sign(a), secret)).toEqual(a);
  });
});
