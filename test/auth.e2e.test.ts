import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCaller } from '../platform/auth/internal-identity.js';
import { issueToken } from '../platform/auth/tokens.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { testWebhookSecretKeys } from '../platform/testing/test-config.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

const ADMIN = { email: 'admin@example.test', password: 'admin password 123' };
const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { token user { id name email role } userErrors { code message field } } }';
const LOGIN = 'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token user { id role } userErrors { code message field } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id seller { id } } userErrors { code } } }';
const UPDATE = 'mutation($id: ID!, $name: String) { updateProduct(id: $id, input: { name: $name }) { product { name } userErrors { code } } }';

type Errors = { errors?: { extensions?: Record<string, unknown>; message: string }[] };

function boot(dataDir: string, extra: Record<string, string> = {}) {
  return startSystem(
    loadConfig({ DATA_DIR: dataDir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', NOTIFICATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false', PASSWORD_HASH_COST: '10', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, WEBHOOK_SECRET_KEYS: testWebhookSecretKeys(dataDir), ...extra }),
    { logger: createLogger('auth-e2e', 'silent') },
  );
}

describe('identity and authorisation through the gateway', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auth-e2e-'));
  let system: RunningSystem;
  let secret: Uint8Array;
  const call = <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) => graphql<T>(system.gatewayUrl, query, variables, headers);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = async (email: string, password: string) => (await call<{ login: { token: string | null; user: { id: string; role: string } | null; userErrors: { code: string; message: string }[] } }>(LOGIN, { email, password })).data!.login;
  const product = async (headers: Record<string, string>) =>
    call<{ createProduct: { product: { id: string } | null; userErrors: unknown[] } }>(CREATE, { input: { sku: `A-${randomUUID().slice(0, 8)}`, name: 'Auth lamp', category: 'home', price: { amount: 100, currency: 'EUR' }, initialStock: 1 } }, headers);

  beforeAll(async () => {
    system = await boot(dataDir);
    secret = new TextEncoder().encode(readFileSync(join(dataDir, 'dev-jwt-secret'), 'utf8').trim());
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers customers and sellers, refuses self-registered admins, and logs in', async () => {
    const email = `ada-${randomUUID()}@Example.test`;
    const r = await call<{ register: { token: string; user: { id: string; email: string; role: string } } }>(REGISTER, { input: { email, password: 'correct horse battery', name: 'Ada', role: 'SELLER' } });
    expect(r.data?.register.user).toMatchObject({ email: email.toLowerCase(), role: 'SELLER' });
    const me = await call<{ me: { id: string; email: string } }>('{ me { id email role } }', undefined, bearer(r.data!.register.token));
    expect(me.data?.me).toMatchObject({ id: r.data!.register.user.id, email: email.toLowerCase(), role: 'SELLER' });
    expect((await call('{ me { id } }')).data).toEqual({ me: null });

    const admin = await call<{ register: { userErrors: unknown[]; token: unknown } }>(REGISTER, { input: { email: `x-${randomUUID()}@example.test`, password: 'long password', name: 'X', role: 'ADMIN' } });
    expect(admin.data?.register).toMatchObject({ token: null, userErrors: [{ code: 'INVALID_INPUT', field: ['input', 'role'] }] });

    const ok = await login(email.toUpperCase(), 'correct horse battery');
    expect(ok.user?.id).toBe(r.data!.register.user.id);
    const wrongPassword = await login(email, 'wrong horse battery');
    const unknownEmail = await login(`nobody-${randomUUID()}@example.test`, 'correct horse battery');
    expect(wrongPassword).toEqual({ token: null, user: null, userErrors: [{ code: 'INVALID_CREDENTIALS', message: expect.any(String) as string, field: null }] });
    expect(unknownEmail).toEqual(wrongPassword); // the same answer: no way to tell which emails exist
    expect((await login(ADMIN.email, ADMIN.password)).user?.role).toBe('ADMIN');
  });

  it('rate-limits login attempts per email', async () => {
    const email = `limited-${randomUUID()}@example.test`;
    for (let i = 0; i < 5; i++) expect((await login(email, 'wrong password')).userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    const limited = await call(LOGIN, { email, password: 'wrong password' });
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('makes exactly one account out of concurrent registrations with one email', async () => {
    const email = `race-${randomUUID()}@example.test`;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call<{ register: { user: { id: string } | null; userErrors: { code: string }[] } }>(REGISTER, { input: { email: i % 2 ? email : email.toUpperCase(), password: 'same password', name: `Racer ${i}` } })));
    const winners = results.filter((r) => r.data?.register.user);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => !x.data?.register.user)) expect(r.data?.register.userErrors[0]?.code).toBe('ALREADY_EXISTS');
    expect((await login(email, 'same password')).user?.id).toBe(winners[0]!.data!.register.user!.id);
  });

  it('lets only sellers create products and only the owner or an admin change one; anyone browses', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const other = await signUp(system.gatewayUrl, 'SELLER');
    const admin = bearer((await login(ADMIN.email, ADMIN.password)).token!);
    expect((await product(customer.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await product({})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const created = await product(seller.headers);
    const id = created.data!.createProduct.product!.id;
    expect((await call<Errors>(UPDATE, { id, name: 'Not yours' }, other.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await call<Errors>(UPDATE, { id, name: 'Not yours' }, customer.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await call<{ updateProduct: { product: { name: string } } }>(UPDATE, { id, name: 'Renamed by owner' }, seller.headers)).data?.updateProduct.product.name).toBe('Renamed by owner');
    expect((await call<{ updateProduct: { product: { name: string } } }>(UPDATE, { id, name: 'Renamed by admin' }, admin)).data?.updateProduct.product.name).toBe('Renamed by admin');
    expect((await call<{ products: { totalCount: number } }>('{ products { totalCount } }')).data?.products.totalCount).toBeGreaterThan(0);
  });

  it('shows an email only to its user and admins, across subgraphs; user(id) is self or admin', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const stranger = await signUp(system.gatewayUrl, 'CUSTOMER');
    const admin = bearer((await login(ADMIN.email, ADMIN.password)).token!);
    const id = (await product(seller.headers)).data!.createProduct.product!.id;
    const q = 'query($id: ID!) { product(id: $id) { seller { id name email role products { totalCount } } } }';
    for (let attempt = 0; attempt < 50; attempt++) {
      const r = await call<{ product: { seller: unknown } | null }>(q, { id });
      if (r.data?.product) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const anonymous = await call<{ product: { seller: { name: string; email: string | null; products: { totalCount: number } } } }>(q, { id });
    expect(anonymous.data?.product.seller).toMatchObject({ id: seller.userId, name: 'Test seller', email: null, role: 'SELLER', products: { totalCount: 1 } });
    expect((await call<{ product: { seller: { email: string | null } } }>(q, { id }, stranger.headers)).data?.product.seller.email).toBeNull();
    expect((await call<{ product: { seller: { email: string | null } } }>(q, { id }, seller.headers)).data?.product.seller.email).toMatch(/@example\.test$/);
    expect((await call<{ product: { seller: { email: string | null } } }>(q, { id }, admin)).data?.product.seller.email).toMatch(/@example\.test$/);
    const uq = 'query($id: ID!) { user(id: $id) { id name } }';
    expect((await call<Errors>(uq, { id: seller.userId }, stranger.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await call<Errors>(uq, { id: seller.userId })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await call<{ user: { id: string } }>(uq, { id: seller.userId }, seller.headers)).data?.user.id).toBe(seller.userId);
    expect((await call<{ user: { id: string } }>(uq, { id: seller.userId }, admin)).data?.user.id).toBe(seller.userId);
    const renamed = await call<{ updateProfile: { user: { name: string } } }>('mutation { updateProfile(input: { name: "New name" }) { user { name } userErrors { code } } }', undefined, seller.headers);
    expect(renamed.data?.updateProfile.user.name).toBe('New name');
    expect((await call<Errors>('mutation { updateProfile(input: { name: "X" }) { user { name } } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('completes subscription events with fields other subgraphs own, as the subscriber may see them', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const id = (await product(seller.headers)).data!.createProduct.product!.id;
    const query = `subscription Watch($ids: [ID!]) { stockChanged(productIds: $ids) { stock ...P } }
      fragment P on StockChange { item: product { name seller { name email role } } }`;
    const watch = (connectionParams: Record<string, string>) => {
      const client = wsClient(system.gatewayUrl, connectionParams);
      const first = new Promise<Record<string, unknown>>((resolve, reject) => {
        client.subscribe<Record<string, unknown>>({ query, variables: { ids: [id] } }, { next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : resolve(r.data!)), error: reject, complete: () => undefined });
      });
      return { client, first };
    };
    const mine = watch({ authorization: seller.headers.authorization! });
    const anonymous = watch({});
    const restock = 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { userErrors { code } } }';
    let settled = false;
    void Promise.all([mine.first, anonymous.first]).finally(() => (settled = true));
    for (let i = 0; i < 50 && !settled; i++) {
      await call(restock, { id }, seller.headers);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [own, other] = await Promise.all([mine.first, anonymous.first]);
    expect(Object.keys(own.stockChanged as object)).toEqual(['stock', 'item']); // the client's shape, nothing added
    expect((own.stockChanged as { item: unknown }).item).toEqual({ name: 'Auth lamp', seller: { name: 'Test seller', email: expect.stringMatching(/@example\.test$/) as string, role: 'SELLER' } });
    expect((other.stockChanged as { item: unknown }).item).toEqual({ name: 'Auth lamp', seller: { name: 'Test seller', email: null, role: 'SELLER' } });
    await mine.client.dispose();
    await anonymous.client.dispose();
  });

  it('refuses forged, expired, unsigned, foreign-key and foreign-audience tokens with UNAUTHENTICATED', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const settings = { secret, issuer: 'storefront', audience: 'storefront-api', ttlSeconds: 3600 };
    const identity = { userId: seller.userId, role: 'ADMIN' as const };
    const tokens: Record<string, string> = {
      garbage: 'not.a.jwt',
      expired: await issueToken(identity, settings, new Date(Date.now() - 2 * 3600_000)),
      'alg none': new UnsecuredJWT({ role: 'ADMIN' }).setSubject(seller.userId).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').encode(),
      'another key': await issueToken(identity, { ...settings, secret: new TextEncoder().encode('x'.repeat(40)) }),
      'another audience': await issueToken(identity, { ...settings, audience: 'another-api' }),
      'HS384 with the right key': await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS384' }).setSubject(seller.userId).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').sign(secret),
    };
    for (const [name, token] of Object.entries(tokens)) {
      const r = await call('{ products { totalCount } }', undefined, bearer(token));
      expect(r.status, name).toBe(401);
      expect(r.errors?.[0]?.extensions?.code, name).toBe('UNAUTHENTICATED');
      expect(r.raw, name).not.toMatch(/stacktrace|\n\s+at /);
    }
    // graphql-ws: a bad token in connection_init closes the connection.
    const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${tokens.expired}` });
    const outcome = await new Promise<string>((resolve) => {
      client.subscribe({ query: 'subscription { stockChanged { stock } }' }, { next: () => resolve('data'), error: (e: unknown) => resolve(`error ${(e as { code?: number }).code ?? String(e)}`), complete: () => resolve('complete') });
    });
    expect(outcome).toBe('error 4403');
    await client.dispose();
  });

  it('never exposes subgraph-only fields through the gateway', async () => {
    for (const query of ['{ _service { sdl } }', '{ _entities(representations: [{ __typename: "User", id: "x" }]) { __typename } }']) {
      const r = await call(query);
      expect(r.errors?.[0]?.extensions?.code, query).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(r.raw).not.toContain('sdl"');
    }
  });

  it('ignores an internal identity header sent by a client, even a validly shaped one', async () => {
    const forged = await signCaller({ identity: { userId: randomUUID(), role: 'ADMIN' }, clientAddress: '1.2.3.4' }, new TextEncoder().encode('y'.repeat(40)));
    const r = await product({ 'x-storefront-identity': forged });
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const r2 = await product({ ...customer.headers, 'x-storefront-identity': forged });
    expect(r2.errors?.[0]?.extensions?.code).toBe('FORBIDDEN'); // still the customer, not the forged admin
  });

  it('refuses too deep, too aliased, too costly and too large operations with coded errors', async () => {
    const deep = await call('{ products { edges { node { seller { products { edges { node { seller { products { edges { node { seller { id } } } } } } } } } } } } }');
    expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth' });
    const aliases = await call(`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: products(first: 1) { totalCount }`).join(' ')} }`);
    expect(aliases.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'alias count' });
    const costly = await call('{ products(first: 100) { edges { node { seller { products(first: 100) { edges { node { id name sku } } } } } } } }');
    expect(costly.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
    expect(costly.status).toBe(400);
    const huge = await call(`{ products(filter: { search: "${'x'.repeat(200_000)}" }) { totalCount } }`);
    expect(huge.status).toBe(413);
    expect(huge.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('gateway protections in production mode', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auth-prod-'));
  let system: RunningSystem;
  beforeAll(async () => {
    system = await boot(dataDir, { NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40), RATE_LIMIT_PER_MINUTE: '5', CORS_ORIGINS: 'https://shop.example' });
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('turns introspection off, answers CORS for the configured origin only, and rate-limits with 429 and Retry-After', async () => {
    const introspection = await graphql(system.gatewayUrl, '{ __schema { types { name } } }');
    expect(introspection.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const preflight = await fetch(system.gatewayUrl, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    const foreign = await fetch(system.gatewayUrl, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ products { totalCount } }' }) });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        expect(((await r.json()) as Errors).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]); // 5 per minute, the introspection attempt above included (preflights are not counted)
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});
