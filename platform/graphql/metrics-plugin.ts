import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Apollo plugin: request latency by operation name and type, and latency of root-field
 * resolvers (nested fields are not timed: per-field timers on every list item cost more than
 * they tell). Errors are counted by code in `formatError`.
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
        executionDidStart() {
          return Promise.resolve({
            willResolveField({ info }) {
              if (info.path.prev !== undefined) return;
              const stop = metrics.graphqlResolverDuration.startTimer({ type: info.parentType.name, field: info.fieldName });
              return () => stop();
            },
          });
        },
        willSendResponse() {
          end({ operation, type });
          return Promise.resolve();
        },
      });
    },
  };
}
