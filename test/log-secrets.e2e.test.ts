import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IDENTITY_HEADER } from '../platform/auth/internal-identity.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, wsClient } from '../platform/testing/graphql-client.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// No password, token or key reaches a log line: the whole system logs at debug into a captured
// stream (and whatever reaches the console or stdout/stderr is captured too) while a
// representative workload runs through the gateway; then every captured line is searched for
// each secret the workload used or the system signed.

const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { token user { id } userErrors { code message field } } }';
const LOGIN = 'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token user { id role } userErrors { code } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';
const PAY = 'mutation($id: ID!, $payment: PaymentInput!) { payOrder(id: $id, payment: $payment) { order { id status } userErrors { code message } } }';
const WATCH = 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }';
const PAYMENT_TOKEN = 'tok_visa';

interface Secret {
  label: string;
  value: string;
}
interface Pattern {
  label: string;
  pattern: RegExp;
}

/** Every captured line holding a secret or matching a pattern, described with the secret masked. */
function findLeaks(lines: readonly string[], secrets: readonly Secret[], patterns: readonly Pattern[]): string[] {
  const found: string[] = [];
  for (const [index, line] of lines.entries()) {
    for (const { label, value } of secrets) {
      if (value.length >= 8 && line.includes(value)) found.push(`line ${index}: ${label}: ${line.split(value).join('<SECRET>').slice(0, 400)}`);
    }
    for (const { label, pattern } of patterns) {
      if (pattern.test(line)) found.push(`line ${index}: ${label}: ${line.replace(pattern, '<MATCH>').slice(0, 400)}`);
    }
  }
  return found;
}

/** What no log line may look like, whatever its value: a bearer credential, a credential header, a JWT, a password hash. */
const PATTERNS: Pattern[] = [
  { label: 'a bearer credential', pattern: /bearer\s+[\w.~+/-]{8,}/i },
  { label: 'a basic credential', pattern: /basic\s+[A-Za-z0-9+/=]{8,}/i },
  { label: 'an authorization header', pattern: /"authorization"\s*:/i },
  { label: 'the internal identity header', pattern: new RegExp(`"${IDENTITY_HEADER}"\\s*:`, 'i') },
  { label: 'a JWT', pattern: /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/ },
  { label: 'a password hash', pattern: /scrypt\$\d+\$/ },
];

/** A log destination that keeps every line. */
function capture(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

describe('logs hold no password, token or key', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'log-secrets-e2e-'));
  const webhookKey = randomBytes(32).toString('base64');
  const keys = { JWT_SECRET: randomBytes(32).toString('hex'), INTERNAL_SECRET: randomBytes(32).toString('hex'), ADMIN_TOKEN: randomBytes(24).toString('hex'), WEBHOOK_SECRET_KEYS: `k1:${webhookKey}` };
  const admin = { email: `admin-${randomUUID()}@example.test`, password: `admin-pw-${randomUUID()}` };
  const log = capture();
  /** Every JWT signed in this process while the system runs (issued to users, the gateway's identity tokens, the test's forgeries). */
  const signed = new Set<string>();
  let system: RunningSystem;

  beforeAll(async () => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- applied to its own instance below
    const sign = SignJWT.prototype.sign;
    vi.spyOn(SignJWT.prototype, 'sign').mockImplementation(async function (this: SignJWT, ...args: Parameters<SignJWT['sign']>) {
      const token = await sign.apply(this, args);
      signed.add(token);
      return token;
    });
    // Anything written around the logger (a library printing to the console) counts as a log line too.
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      const original = console[method].bind(console);
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        log.lines.push(`console.${method}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
        original(...args);
      });
    }
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      vi.spyOn(stream, 'write').mockImplementation((...args: unknown[]) => {
        log.lines.push(String(args[0]));
        return write(...args);
      });
    }
    system = await startSystem(
      loadConfig({
        DATA_DIR: dataDir,
        PORT: '0',
        PRODUCT_PORT: '0',
        ORDER_PORT: '0',
        USER_PORT: '0',
        RECOMMENDATION_PORT: '0',
        NOTIFICATION_PORT: '0',
        PROJECTOR_PORT: '0',
        LOG_LEVEL: 'debug',
        SEED_DEMO_DATA: 'false',
        EVENTSTORE_FSYNC: 'false',
        PASSWORD_HASH_COST: '10',
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
        ...keys,
      }),
      { logger: createLogger('log-secrets-e2e', 'debug', log) },
    );
  });
  afterAll(async () => {
    await system?.stop();
    vi.restoreAllMocks();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds a secret that is logged, in a message or a field (the search can fail)', () => {
    const canary = capture();
    const logger = createLogger('canary', 'debug', canary);
    const password = `canary-pw-${randomUUID()}`;
    logger.info(`login with ${password}`);
    logger.debug({ headers: { authorization: 'Bearer abcdefghijklmnop' } }, 'request');
    expect(findLeaks(canary.lines, [{ label: 'a password', value: password }], PATTERNS)).toEqual([
      expect.stringMatching(/^line 0: a password: .*login with <SECRET>/),
      expect.stringMatching(/^line 1: a bearer credential: /),
      expect.stringMatching(/^line 1: an authorization header: /),
    ]);
  });

  it('logs none of them while accounts register and log in, sell, order, pay, subscribe, and forge', async () => {
    const gateway = system.gatewayUrl;
    const call = <T>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) => graphql<T>(gateway, query, variables, headers);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const passwords: Secret[] = [];
    const tokens: string[] = [];
    const account = async (role: 'SELLER' | 'CUSTOMER') => {
      const email = `${role.toLowerCase()}-${randomUUID()}@example.test`;
      const password = `${role.toLowerCase()}-pw-${randomUUID()}`;
      passwords.push({ label: `the ${role.toLowerCase()}'s password`, value: password });
      const registered = await call<{ register: { token: string; user: { id: string } } }>(REGISTER, { input: { email, password, name: `Log ${role}`, role } });
      expect(registered.data?.register.token, registered.raw).toBeTruthy();
      const login = await call<{ login: { token: string } }>(LOGIN, { email, password });
      expect(login.data?.login.token, login.raw).toBeTruthy();
      tokens.push(registered.data!.register.token, login.data!.login.token);
      return { id: registered.data!.register.user.id, email, headers: bearer(login.data!.login.token) };
    };

    // Accounts: register and log in; a wrong password; an unknown email; a refused registration.
    const seller = await account('SELLER');
    const customer = await account('CUSTOMER');
    const wrong = `wrong-pw-${randomUUID()}`;
    passwords.push({ label: 'a wrong password', value: wrong });
    expect((await call<{ login: { userErrors: { code: string }[] } }>(LOGIN, { email: seller.email, password: wrong })).data?.login.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    expect((await call<{ login: { userErrors: { code: string }[] } }>(LOGIN, { email: `nobody-${randomUUID()}@example.test`, password: wrong })).data?.login.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    const refused = `refused-pw-${randomUUID()}`;
    passwords.push({ label: 'the password of a refused registration', value: refused });
    expect((await call(REGISTER, { input: { email: `x-${randomUUID()}@example.test`, password: refused, name: 'X', role: 'WIZARD' } })).status).toBe(400);
    expect((await call<{ register: { userErrors: unknown[] } }>(REGISTER, { input: { email: seller.email, password: refused, name: 'Again' } })).data?.register.userErrors).toHaveLength(1);

    // The admin from ADMIN_EMAIL / ADMIN_PASSWORD.
    passwords.push({ label: 'the admin password', value: admin.password });
    const adminLogin = await call<{ login: { token: string; user: { role: string } } }>(LOGIN, { email: admin.email, password: admin.password });
    expect(adminLogin.data?.login.user.role, adminLogin.raw).toBe('ADMIN');
    tokens.push(adminLogin.data!.login.token);
    expect((await call<{ user: { id: string } }>('query($id: ID!) { user(id: $id) { id email } }', { id: seller.id }, bearer(adminLogin.data!.login.token))).data?.user.id).toBe(seller.id);

    // Sell, order, watch the order over graphql-ws (the token in connection_init), pay.
    const created = await call<{ createProduct: { product: { id: string } } }>(
      CREATE,
      { input: { sku: `LOG-${randomUUID().slice(0, 8)}`, name: 'Log lamp', category: 'home', price: { amount: 1200, currency: 'EUR' }, initialStock: 4 } },
      seller.headers,
    );
    const productId = created.data!.createProduct.product.id;
    const placed = await call<{ placeOrder: { order: { id: string } } }>(PLACE, { input: { items: [{ productId, quantity: 1 }] } }, customer.headers);
    const orderId = placed.data!.placeOrder.order.id;
    const watcher = wsClient(gateway, { authorization: customer.headers.authorization });
    const statuses: string[] = [];
    const watching = (async () => {
      for await (const r of watcher.iterate<{ orderStatusChanged: { status: string } }>({ query: WATCH, variables: { id: orderId } })) {
        statuses.push(r.data?.orderStatusChanged.status ?? JSON.stringify(r.errors));
        if (r.data?.orderStatusChanged.status === 'PAID') return;
      }
    })();
    try {
      await eventually(() => expect(statuses).toContain('CONFIRMED'));
      const paid = await call<{ payOrder: { order: { status: string } } }>(PAY, { id: orderId, payment: { token: PAYMENT_TOKEN, idempotencyKey: `pay-${randomUUID()}` } }, customer.headers);
      expect(paid.data?.payOrder.order.status, paid.raw).toBe('PAID');
      await watching;
      expect(statuses.at(-1)).toBe('PAID');
    } finally {
      await watcher.dispose();
    }

    // Forgeries: a token signed with another key, an unsigned one, a Basic credential, over HTTP
    // and graphql-ws; an identity header sent to a subgraph directly; wrong and right admin tokens.
    const forged = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject(customer.id).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(randomBytes(32).toString('hex')));
    const unsigned = new UnsecuredJWT({ role: 'ADMIN' }).setSubject(customer.id).setIssuer('storefront').setAudience('storefront-api').setIssuedAt().setExpirationTime('1h').encode();
    const basic = Buffer.from(`${seller.email}:${passwords[0]!.value}`).toString('base64');
    for (const authorization of [`Bearer ${forged}`, `Bearer ${unsigned}`, `Basic ${basic}`]) {
      expect((await call('{ me { id } }', undefined, { authorization })).status, authorization).toBe(401);
    }
    const forgedSocket = wsClient(gateway, { authorization: `Bearer ${forged}` });
    const outcome = await new Promise<string>((resolve) => {
      forgedSocket.subscribe({ query: WATCH, variables: { id: orderId } }, { next: () => resolve('data'), error: (e: unknown) => resolve(`error ${(e as { code?: number }).code ?? String(e)}`), complete: () => resolve('complete') });
    });
    expect(outcome).toBe('error 4403');
    await forgedSocket.dispose();
    const direct = await graphql<{ me: unknown }>(system.userUrl, '{ me { id } }', undefined, { [IDENTITY_HEADER]: forged });
    expect(direct.data?.me, direct.raw).toBeNull();
    const rebuild = (token: string) => fetch(`${system.projectorUrl}/projections/rebuild?name=no-such-projection`, { method: 'POST', headers: bearer(token) });
    expect((await rebuild(randomBytes(24).toString('hex'))).status).toBe(403);
    expect((await rebuild(keys.ADMIN_TOKEN)).status).toBe(404); // authorised; no such projection

    await system.stop(); // shutting down logs too

    // What was signed: the tokens the clients got, and the gateway's identity tokens for subgraphs.
    for (const token of tokens) expect(signed, 'the spy on SignJWT sees every token issued').toContain(token);
    const internal = [...signed].filter((t) => decodeJwt(t).iss === 'storefront-gateway');
    expect(internal.length, 'the gateway signed identity tokens for the subgraphs').toBeGreaterThan(0);
    const secrets: Secret[] = [
      ...passwords,
      { label: 'JWT_SECRET', value: keys.JWT_SECRET },
      { label: 'INTERNAL_SECRET', value: keys.INTERNAL_SECRET },
      { label: 'ADMIN_TOKEN', value: keys.ADMIN_TOKEN },
      { label: 'the WEBHOOK_SECRET_KEYS key', value: webhookKey },
      { label: 'a Basic credential', value: basic },
      { label: 'the payment token', value: PAYMENT_TOKEN },
      ...[...signed, unsigned].flatMap((token) => {
        const kind = decodeJwt(token).iss === 'storefront-gateway' ? 'an internal identity token' : token === forged || token === unsigned ? 'a forged token' : 'an issued token';
        return [
          { label: kind, value: token },
          { label: `${kind}'s payload and signature`, value: token.slice(token.indexOf('.') + 1) },
          { label: `${kind}'s signature`, value: token.slice(token.lastIndexOf('.') + 1) },
        ];
      }),
    ];

    // The capture saw the system at work, debug lines included.
    const levels = log.lines.flatMap((line) => {
      try {
        return [(JSON.parse(line) as { level?: number }).level];
      } catch {
        return [];
      }
    });
    expect(levels, 'debug lines were captured').toContain(20);
    expect(log.lines.some((line) => line.includes('account created'))).toBe(true);

    expect(findLeaks(log.lines, secrets, PATTERNS)).toEqual([]);
  });
});
