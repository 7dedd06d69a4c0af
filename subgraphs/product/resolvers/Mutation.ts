import type { MutationResolvers } from '../__generated__/resolvers-types.js';
import { withUserErrors } from '../../../platform/graphql/errors.js';

const noProduct = { product: null };
const noImport = { rows: null, created: null, unchanged: null, rejected: null, rejections: null };

export const Mutation: MutationResolvers = {
  createProduct: (_, { input }, { service, actor }) =>
    withUserErrors(
      service.metrics,
      async () => ({
        product: await service.create(
          {
            sku: input.sku,
            name: input.name,
            description: input.description ?? null,
            category: input.category,
            price: input.price,
            initialStock: input.initialStock,
          },
          actor,
        ),
      }),
      noProduct,
    ),
  updateProduct: (_, { id, input, expectedVersion }, { service, actor }) =>
    withUserErrors(service.metrics, async () => ({ product: await service.update(id, input, expectedVersion, actor) }), noProduct),
  restockProduct: (_, { id, quantity }, { service, actor }) =>
    withUserErrors(service.metrics, async () => ({ product: await service.restock(id, quantity, actor) }), noProduct),
  discontinueProduct: (_, { id }, { service, actor }) => withUserErrors(service.metrics, async () => ({ product: await service.discontinue(id, actor) }), noProduct),
  importProducts: (_, { csv }, { service, actor }) =>
    withUserErrors(
      service.metrics,
      async () => {
        const { rows, created, unchanged, rejected, rejections } = await service.importCsv(csv, actor);
        return { rows, created, unchanged, rejected, rejections: rejections.map((r) => ({ ...r, column: r.column && (r.column.toUpperCase() as Uppercase<typeof r.column>) })) };
      },
      noImport,
    ),
};
