import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Apollo plugin: request latency by operation name and type. Errors are counted by code in
 * `formatError`; root-field resolver latency by `instrumentRootResolvers`.
 */
export function metricsPlugin<Context extends BaseContext>(metrics: Metrics): ApolloServerPlugin<Context> {
  // Operation names come from clients: keep label cardinality bounded.
  const known = new Set<string>();
  const label = (name: string | null) => {
    if (!name) return 'anonymous';
    if (known.has(name)) return name;
    if (known.size >= 200 || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
    known.add(name);
    return name;
  };
  return {
    requestDidStart() {
      const end = metrics.graphqlRequestDuration.startTimer();
      let operation = 'unknown';
      let type = 'unknown';
      return Promise.resolve({
        didResolveOperation(ctx) {
          operation = label(ctx.operationName);
          type = ctx.operation?.operation ?? 'unknown';
          return Promise.resolve();
        },
        willSendResponse() {
          end({ operation, type });
          return Promise.resolve();
        },
      });
    },
  };
}

/**
 * Wraps the resolvers of Query and Mutation fields with a latency timer. Done on the schema
 * rather than with a `willResolveField` hook, which would run for every field of every list
 * item (measured: about 10% of the catalog query's throughput) to time only the roots.
 */
export function instrumentRootResolvers(schema: GraphQLSchema, metrics: Metrics): GraphQLSchema {
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    if (!type) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      const labels = { type: type.name, field: field.name };
      field.resolve = (source, args, context, info) => {
        const end = metrics.graphqlResolverDuration.startTimer(labels);
        try {
          const result: unknown = resolve(source, args, context, info);
          if (result instanceof Promise) return result.finally(end);
          end();
          return result;
        } catch (error) {
          end();
          throw error;
        }
      };
    }
  }
  return schema;
}
