import type { MutationResolvers } from '../__generated__/resolvers-types.js';
import { withUserErrors } from '../../../platform/graphql/errors.js';

const noOrder = { order: null };

export const Mutation: MutationResolvers = {
  placeOrder: (_, { input }, { service, actor }) => withUserErrors(service.metrics, async () => ({ order: await service.place(input, actor) }), noOrder),
  payOrder: (_, { id, payment }, { service, actor }) => withUserErrors(
      service.metrics,
      async () => {
        const { order, userErrors } = await service.pay(id, payment, actor);
        for (const e of userErrors) service.metrics.graphqlErrors.inc({ code: e.code });
        return { order, userErrors };
      },
      noOrder,
    ),
  cancelOrder: (_, { id }, { service, actor }) => withUserErrors(service.metrics, async () => ({ order: await service.cancel(id, actor) }), noOrder),
  shipOrder: (_, { id }, { service, actor }) => withUserErrors(service.metrics, async () => ({ order: await service.ship(id, actor) }), noOrder),
};
