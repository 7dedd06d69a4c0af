import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

function scrypt(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export interface KdfParams {
  /** CPU/memory cost, a power of two. 2^15 takes ~100 ms here: slow for guessing, fine for a login. */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_KDF: KdfParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** scrypt with a random per-password salt; the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string, params: KdfParams = DEFAULT_KDF): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { ...params, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Constant-time comparison. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { ...params, maxmem: 256 * params.N * params.r });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let dummy: Promise<string> | undefined;
/** Spends the same time as a real verification, for unknown accounts (no timing oracle for emails). */
export async function burnVerification(password: string, params: KdfParams = DEFAULT_KDF): Promise<void> {
  dummy ??= hashPassword('not-a-real-password', params);
  await verifyPassword(password, await dummy);
}
