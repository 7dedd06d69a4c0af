import { jwtVerify, SignJWT } from 'jose';
import type { Identity, Role } from './tokens.js';
import { verifiedTokensFor, type VerifiedTokens } from './verified-tokens.js';

/**
 * How the gateway tells subgraphs who is calling: a short-lived token signed with a key only
 * the gateway and the subgraphs hold, in one header. Clients cannot forge it (the gateway drops
 * any such header a client sends and signs its own), and a subgraph reached directly without a
 * valid one treats the caller as anonymous.
 */
export const IDENTITY_HEADER = 'x-storefront-identity';
const AUDIENCE = 'storefront-subgraphs';
const ISSUER = 'storefront-gateway';

export interface CallerContext {
  identity: Identity | undefined;
  /** Client address as the gateway saw it (for per-address limits). */
  clientAddress: string | undefined;
}

/** `lifetime` (a jose time span, five minutes by default) is for load generators that stand in for the gateway. */
export function signCaller(caller: CallerContext, secret: Uint8Array, lifetime = '5m'): Promise<string> {
  return signFresh(caller, secret, lifetime);
}

/**
 * Signing costs more than the rest of a cached query, so the gateway reuses a token for the
 * same caller (identity and address) while it has more than a minute of its five left.
 */
export class CallerSigner {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(
    private readonly secret: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {}

  async sign(caller: CallerContext): Promise<string> {
    const key = `${caller.identity?.userId ?? ''}|${caller.identity?.role ?? ''}|${caller.clientAddress ?? ''}`;
    const cached = this.tokens.get(key);
    if (cached && cached.until > this.now()) return cached.token;
    const token = await signFresh(caller, this.secret);
    if (this.tokens.size >= 10_000) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(key, { token, until: this.now() + 4 * 60_000 });
    return token;
  }
}

async function signFresh(caller: CallerContext, secret: Uint8Array, lifetime = '5m'): Promise<string> {
  const jwt = new SignJWT({ ...(caller.identity && { role: caller.identity.role }), ...(caller.clientAddress && { ip: caller.clientAddress }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(lifetime);
  if (caller.identity) jwt.setSubject(caller.identity.userId);
  return jwt.sign(secret);
}

const verifiedCallers = new WeakMap<Uint8Array, VerifiedTokens<CallerContext>>();

/**
 * The caller a subgraph request carries; anonymous when the header is missing or not valid. A
 * token is verified once and its caller kept until it expires (the gateway reuses a caller's token).
 */
export async function readCaller(header: unknown, secret: Uint8Array): Promise<CallerContext> {
  if (typeof header !== 'string' || header.length === 0 || header.length > 4096) return { identity: undefined, clientAddress: undefined };
  try {
    return await verifiedTokensFor(verifiedCallers, secret).get(header, async (token) => {
      const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp'] });
      const role = payload.role as Role | undefined;
      const caller = {
        identity: payload.sub && role ? { userId: payload.sub, role } : undefined,
        clientAddress: typeof payload.ip === 'string' ? payload.ip : undefined,
      };
      return { value: caller, expiresAtMs: payload.exp! * 1000 };
    });
  } catch {
    return { identity: undefined, clientAddress: undefined };
  }
}
