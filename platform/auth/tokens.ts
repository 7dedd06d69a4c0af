import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { verifiedTokensFor, type VerifiedTokens } from './verified-tokens.js';

export type Role = 'CUSTOMER' | 'SELLER' | 'ADMIN';
const ROLES = new Set<Role>(['CUSTOMER', 'SELLER', 'ADMIN']);

/** Who is calling, as the gateway established it. */
export interface Identity {
  userId: string;
  role: Role;
}

export interface TokenSettings {
  /** HMAC key (HS256), at least 32 bytes. */
  secret: Uint8Array;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Only this algorithm is accepted: `alg: none` or any other algorithm is refused by jwtVerify. */
const ALGORITHMS = ['HS256'];

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export async function issueToken(identity: Identity, settings: TokenSettings, now: Date = new Date()): Promise<string> {
  return new SignJWT({ role: identity.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(identity.userId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(Math.floor(now.getTime() / 1000) + settings.ttlSeconds)
    .sign(settings.secret);
}

type VerifiedIdentity = Identity & { claims: Record<string, unknown> };
const verifiedIdentities = new WeakMap<Uint8Array, VerifiedTokens<VerifiedIdentity & { issuer: string; audience: string }>>();

/**
 * Verifies signature, algorithm, issuer, audience and expiry; anything wrong is an InvalidTokenError.
 * A valid token is verified once and its identity kept until it expires.
 */
export async function verifyToken(token: string, settings: Omit<TokenSettings, 'ttlSeconds'>): Promise<VerifiedIdentity> {
  try {
    const verified = await verifiedTokensFor(verifiedIdentities, settings.secret).get(token, async () => {
      const { payload } = await jwtVerify(token, settings.secret, { algorithms: ALGORITHMS, issuer: settings.issuer, audience: settings.audience, requiredClaims: ['sub', 'exp', 'iat'] });
      const role = payload.role as Role;
      if (!payload.sub || !ROLES.has(role)) throw new InvalidTokenError('token has no valid subject or role');
      return { value: { userId: payload.sub, role, claims: payload, issuer: settings.issuer, audience: settings.audience }, expiresAtMs: payload.exp! * 1000 };
    });
    // The same key with other settings (a test, a rotation) checks its own issuer and audience.
    if (verified.issuer !== settings.issuer || verified.audience !== settings.audience) throw new InvalidTokenError('token is not valid');
    return { userId: verified.userId, role: verified.role, claims: verified.claims };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new InvalidTokenError('token expired');
    throw new InvalidTokenError('token is not valid');
  }
}
