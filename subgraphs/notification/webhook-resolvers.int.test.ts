import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graphql, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../platform/auth/tokens.js';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { createWebhookSender } from './channels/webhook.js';
import { WebhookDeliveries } from './channels/webhooks.js';
import { WebhookSecretBox } from './channels/webhook-secrets.js';
import { buildNotificationSchema } from './server.js';
import type { WebhookResolverContext } from './webhook-resolvers.js';

/**
 * The notification subgraph's webhook fields and their resolvers, executed as the gateway would:
 * mutations, and `me { webhooks }` through `_entities`. Production rules: no private addresses,
 * https only.
 */
describe('webhook GraphQL (the notification subgraph schema + webhook-resolvers.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-graphql-'));
  let events: FileEventStore;
  let schema: GraphQLSchema;
  let context: (actor: Identity | undefined) => WebhookResolverContext;
  const sender = createWebhookSender({ allowPrivate: false });

  beforeAll(async () => {
    events = await FileEventStore.open(dir, { fsync: false });
    const webhooks = new WebhookDeliveries({ events, documents: new MemoryDocumentStore(), sender, secrets: WebhookSecretBox.development(), allowPrivate: false });
    const metrics = createMetrics(serviceRegistry('webhook-graphql-test', { processMetrics: false }));
    context = (actor) => ({ actor, webhooks, metrics });
    schema = buildNotificationSchema();
  });
  afterAll(async () => {
    sender.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (source: string, actor: Identity | undefined, variableValues: Record<string, unknown> = {}) => {
    const result = await graphql({ schema, source, variableValues, contextValue: context(actor) });
    return { data: result.data, errors: result.errors?.map((e) => ({ message: e.message, code: e.extensions.code ?? (e.originalError as { code?: string } | undefined)?.code })) };
  };
  const REGISTER = 'mutation($url: String!, $events: [NotificationKind!]!) { registerWebhook(url: $url, events: $events) { webhook { id url events status consecutiveFailures lastError createdAt } secret userErrors { code message field } } }';
  const ME = 'query($id: ID!) { _entities(representations: [{ __typename: "User", id: $id }]) { ... on User { webhooks { id url events status consecutiveFailures } } } }';

  it('registers a seller’s webhook (secret shown once) and lists it on me { webhooks }', async () => {
    const seller: Identity = { userId: randomUUID(), role: 'SELLER' };
    const { data, errors } = await run(REGISTER, seller, { url: 'https://hooks.example.com/storefront', events: ['UNIT_SOLD', 'SOLD_OUT'] });
    expect(errors).toBeUndefined();
    const registered = data!.registerWebhook as { webhook: { id: string }; secret: string; userErrors: unknown[] };
    expect(registered.userErrors).toEqual([]);
    expect(registered.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(registered.webhook).toMatchObject({ url: 'https://hooks.example.com/storefront', events: ['UNIT_SOLD', 'SOLD_OUT'], status: 'ACTIVE', consecutiveFailures: 0, lastError: null });

    const me = await run(ME, seller, { id: seller.userId });
    expect(me.errors).toBeUndefined();
    expect(me.data!._entities).toEqual([{ webhooks: [{ id: registered.webhook.id, url: 'https://hooks.example.com/storefront', events: ['UNIT_SOLD', 'SOLD_OUT'], status: 'ACTIVE', consecutiveFailures: 0 }] }]);
    expect(JSON.stringify(me.data)).not.toContain(registered.secret);

    const other = await run(ME, { userId: randomUUID(), role: 'SELLER' }, { id: seller.userId });
    expect(other.errors).toMatchObject([{ code: 'FORBIDDEN' }]);
    const customer: Identity = { userId: randomUUID(), role: 'CUSTOMER' };
    expect((await run(ME, customer, { id: customer.userId })).data!._entities).toEqual([{ webhooks: [] }]);

    const reactivated = await run('mutation($id: ID!) { reactivateWebhook(id: $id) { webhook { id status } userErrors { code field } } }', seller, { id: registered.webhook.id });
    expect(reactivated.data!.reactivateWebhook).toEqual({ webhook: { id: registered.webhook.id, status: 'ACTIVE' }, userErrors: [] });
    const unknown = await run('mutation($id: ID!) { reactivateWebhook(id: $id) { webhook { id } userErrors { code field } } }', seller, { id: randomUUID() });
    expect(unknown.data!.reactivateWebhook).toEqual({ webhook: null, userErrors: [{ code: 'NOT_FOUND', field: ['id'] }] });

    const DELETE = 'mutation($id: ID!) { deleteWebhook(id: $id) { deletedId userErrors { code field } } }';
    expect((await run(DELETE, { userId: randomUUID(), role: 'SELLER' }, { id: registered.webhook.id })).data!.deleteWebhook).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND', field: ['id'] }] }); // another seller's
    expect((await run(DELETE, undefined, { id: registered.webhook.id })).errors).toMatchObject([{ code: 'UNAUTHENTICATED' }]);
    expect((await run(DELETE, seller, { id: registered.webhook.id })).data!.deleteWebhook).toEqual({ deletedId: registered.webhook.id, userErrors: [] });
    expect((await run(ME, seller, { id: seller.userId })).data!._entities).toEqual([{ webhooks: [] }]);
    expect((await run(DELETE, seller, { id: registered.webhook.id })).data!.deleteWebhook).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND', field: ['id'] }] });
  });

  it('refuses non-sellers (FORBIDDEN), the signed-out (UNAUTHENTICATED) and URLs that are not allowed (INVALID_INPUT on url)', async () => {
    const customer = await run(REGISTER, { userId: randomUUID(), role: 'CUSTOMER' }, { url: 'https://hooks.example.com/x', events: ['UNIT_SOLD'] });
    expect(customer.errors).toMatchObject([{ code: 'FORBIDDEN' }]);
    const anonymous = await run(REGISTER, undefined, { url: 'https://hooks.example.com/x', events: ['UNIT_SOLD'] });
    expect(anonymous.errors).toMatchObject([{ code: 'UNAUTHENTICATED' }]);
    const seller: Identity = { userId: randomUUID(), role: 'SELLER' };
    for (const url of ['https://127.0.0.1/hook', 'https://[::1]/hook', 'http://hooks.example.com/x', 'https://169.254.169.254/latest/meta-data']) {
      const { data } = await run(REGISTER, seller, { url, events: ['UNIT_SOLD'] });
      expect(data!.registerWebhook).toMatchObject({ webhook: null, secret: null, userErrors: [{ code: 'INVALID_INPUT', field: ['url'] }] });
    }
    expect((await run(ME, seller, { id: seller.userId })).data!._entities).toEqual([{ webhooks: [] }]);
  });
});
