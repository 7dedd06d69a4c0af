import {
  getNamedType,
  isObjectType,
  Kind,
  OperationTypeNode,
  parse,
  validate,
  type DocumentNode,
  type GraphQLNamedType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Supergraph, SubgraphEndpoint } from './compose.js';
import { WeightedLru } from '../platform/weighted-lru.js';
import { inlineFragments } from './entity-completion.js';

/** Routes hold parsed documents: at most this many, made from at most this much query text. */
const MAX_CACHED_ROUTES = 1000;
const MAX_CACHED_QUERY_CHARS = 1_000_000;

export interface Route {
  subgraph: SubgraphEndpoint;
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

/**
 * The single-subgraph fast path: a query or mutation whose every field one subgraph resolves
 * needs no query plan, so the gateway forwards it as it came (after validating it against the
 * client-facing schema, which keeps subgraph-only fields such as `_entities` out of reach) and
 * relays the subgraph's answer, instead of planning, fetching, re-parsing and re-shaping it.
 * Anything else (several subgraphs, introspection, abstract types, invalid operations) takes
 * the normal path through the gateway.
 */
export class SingleSubgraphRouter {
  private readonly routes = new WeightedLru<string, Route | null>(MAX_CACHED_QUERY_CHARS, MAX_CACHED_ROUTES);

  constructor(private readonly supergraph: Pick<Supergraph, 'apiSchema' | 'ownership' | 'endpoints'>) {}

  route(query: unknown, operationName: unknown): Route | undefined {
    if (typeof query !== 'string' || (operationName !== undefined && operationName !== null && typeof operationName !== 'string')) return undefined;
    const key = `${operationName ?? ''}\n${query}`;
    let route = this.routes.get(key);
    if (route === undefined) {
      route = this.plan(query, operationName ?? undefined) ?? null;
      this.routes.set(key, route, key.length);
    }
    return route ?? undefined;
  }

  private plan(query: string, operationName: string | undefined): Route | undefined {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      return undefined;
    }
    const { apiSchema } = this.supergraph;
    if (validate(apiSchema, document).length > 0) return undefined;
    const operation = inlineFragments(document, operationName);
    if (!operation || operation.operation === OperationTypeNode.SUBSCRIPTION) return undefined;
    const root = operation.operation === OperationTypeNode.MUTATION ? apiSchema.getMutationType() : apiSchema.getQueryType();
    let candidates: string[] | undefined;
    const visit = (set: SelectionSetNode, type: GraphQLNamedType | undefined | null): boolean => {
      if (!type || !isObjectType(type)) return false; // interfaces and unions: leave them to the planner
      for (const s of set.selections) {
        if (s.kind === Kind.INLINE_FRAGMENT) {
          if (s.typeCondition && s.typeCondition.name.value !== type.name) return false;
          if (!visit(s.selectionSet, type)) return false;
          continue;
        }
        if (s.kind !== Kind.FIELD) return false;
        if (s.name.value === '__typename') continue;
        if (s.name.value.startsWith('__')) return false; // introspection is the gateway's
        const owners = [...this.supergraph.endpoints.keys()].filter((name) => this.supergraph.ownership.resolves(name, type.name, s.name.value));
        candidates = (candidates ?? owners).filter((c) => owners.includes(c));
        if (candidates.length === 0) return false;
        if (s.selectionSet && !visit(s.selectionSet, getNamedType(type.getFields()[s.name.value]?.type))) return false;
      }
      return true;
    };
    if (!visit(operation.selectionSet, root) || !candidates?.[0]) return undefined;
    const subgraph = this.supergraph.endpoints.get(candidates[0]);
    if (!subgraph) return undefined;
    return { subgraph, document, operation };
  }
}
