import type { Identity } from '../../platform/auth/tokens.js';
import { ForbiddenError } from '../../platform/errors.js';
import { unauthenticated, withUserErrors } from '../../platform/graphql/errors.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import type { NotificationKind } from './channels/channel.js';
import type { WebhookDeliveries, WebhookView } from './channels/webhooks.js';

/**
 * Resolvers of webhooks.graphql, written against the least they need from the slice's context,
 * so that the notification subgraph wires them in as they are:
 *
 *   Mutation: { ...webhookMutationResolvers, ... }
 *   User: { ...webhookUserResolvers, ... }
 *
 * with `webhooks`, `actor` and `metrics` on its context. (Typed here by hand; once the SDL is in
 * the slice's schema.graphql, codegen's MutationResolvers/UserResolvers check them.)
 */
export interface WebhookResolverContext {
  actor: Identity | undefined;
  webhooks: WebhookDeliveries;
  metrics: Metrics;
}

const signedIn = (actor: Identity | undefined, what: string): Identity => {
  if (!actor) throw unauthenticated(`sign in to ${what}`);
  return actor;
};

export const webhookMutationResolvers = {
  registerWebhook: (_: unknown, args: { url: string; events: readonly NotificationKind[] }, { actor, webhooks, metrics }: WebhookResolverContext) => {
    const caller = signedIn(actor, 'register webhooks');
    return withUserErrors(metrics, () => webhooks.register(caller, args.url, args.events), { webhook: null, secret: null });
  },
  reactivateWebhook: (_: unknown, args: { id: string }, { actor, webhooks, metrics }: WebhookResolverContext) => {
    const caller = signedIn(actor, 'reactivate webhooks');
    return withUserErrors(metrics, async () => ({ webhook: await webhooks.reactivate(caller, args.id) }), { webhook: null });
  },
  deleteWebhook: (_: unknown, args: { id: string }, { actor, webhooks, metrics }: WebhookResolverContext) => {
    const caller = signedIn(actor, 'delete webhooks');
    return withUserErrors(
      metrics,
      async () => {
        await webhooks.delete(caller, args.id);
        return { deletedId: args.id };
      },
      { deletedId: null },
    );
  },
};

export const webhookUserResolvers = {
  /** The user's own webhooks (`me { webhooks }`); another user's are FORBIDDEN, a non-seller has none. */
  webhooks: async (user: { id: string }, _: unknown, { actor, webhooks }: WebhookResolverContext): Promise<WebhookView[]> => {
    const caller = signedIn(actor, 'see webhooks');
    if (caller.userId !== user.id) throw new ForbiddenError('only the user themself may see their webhooks');
    if (caller.role !== 'SELLER') return [];
    return webhooks.list(user.id);
  },
};
