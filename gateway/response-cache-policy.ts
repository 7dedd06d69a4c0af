import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isAbstractType,
  isObjectType,
  Kind,
  OperationTypeNode,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { anyTag, entityTag, listTag, readModelTag } from '../platform/cache/response-tags.js';
import { WeightedLru } from '../platform/weighted-lru.js';
import { inlineFragments } from './entity-completion.js';
import type { Ownership } from './ownership.js';

/**
 * What the gateway may cache, and under which tags (platform/cache/response-tags.ts). Only data
 * that is the same for every caller and whose every change a projection announces is listed:
 * a response is cached only if every field it selects is covered here, so anything personal
 * (`me`, `user`, `order`, a user's email or name) or without invalidations keeps the response
 * out of the cache altogether.
 */
export interface ResponseCachePolicy {
  /**
   * Object types whose changes one projection announces: every field of theirs that `subgraph`
   * resolves may be cached, except `personal` ones (which answer differently per caller). Objects
   * of these types are tagged by id (`entityTag`), or `anyTag` without an id.
   */
  entities: Readonly<Record<string, { subgraph: string; readModel: string; personal?: readonly string[] }>>;
  /** Types that only hold others (connections, edges, money, page info): cached under a cached parent. */
  values: readonly string[];
  /** Other fields that may be cached, with the tags a response selecting them carries. */
  fields: Readonly<Record<string, (args: Record<string, unknown>) => string[]>>;
}

/**
 * The catalog: products, lists of them (also a seller's), and their sellers' public profile (the
 * user-profiles feed announces its changes; a user's email is personal). Nothing else: not `me`,
 * `user`, orders or a user's orders.
 */
export const RESPONSE_CACHE_POLICY: ResponseCachePolicy = {
  entities: {
    Product: { subgraph: 'product', readModel: 'product-catalog' },
    User: { subgraph: 'user', readModel: 'user-profiles', personal: ['email'] },
  },
  values: ['Money', 'PageInfo', 'ProductConnection', 'ProductEdge'],
  fields: {
    'Query.product': (args) => [entityTag('Product', String(args.id))],
    'Query.products': () => [listTag('Product')],
    'User.products': () => [listTag('Product')],
  },
};

/** Where in a response to find the objects of cached types (by response key). */
interface Shape {
  /** The entity type of the objects here, if any. */
  entity?: string;
  /** Response keys of their `id`. */
  idKeys: string[];
  children: Map<string, Shape>;
}

/** A cacheable operation: its shape and how to tag an answer to it. */
export interface CachePlan {
  /** The operation's name, if it has one. */
  readonly name: string | undefined;
  /** The tags of an answer to it with these variables (undefined: variables that do not coerce). */
  tagsFor(variables: Record<string, unknown>, data: unknown): string[] | undefined;
}

/** Plans hold parsed documents: at most this many, made from at most this much query text. */
const MAX_PLANS = 1000;
const MAX_PLANNED_CHARS = 1_000_000;

/**
 * Decides which operations may be cached (queries whose every field the policy covers) and how
 * their answers are tagged: tags that follow from the operation (lists, an entity looked up by
 * id argument, the read models read) and tags of the objects in the answer. Decisions are kept
 * per operation text.
 */
export class ResponseCachePlanner {
  private readonly plans = new WeightedLru<string, CachePlan | null>(MAX_PLANNED_CHARS, MAX_PLANS);

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly ownership: Pick<Ownership, 'resolves'>,
    private readonly policy: ResponseCachePolicy = RESPONSE_CACHE_POLICY,
  ) {}

  plan(query: string, operationName: string | undefined): CachePlan | undefined {
    const key = `${operationName ?? ''}\n${query}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.make(query, operationName) ?? null;
      this.plans.set(key, plan, key.length);
    }
    return plan ?? undefined;
  }

  private make(query: string, operationName: string | undefined): CachePlan | undefined {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      return undefined;
    }
    if (validate(this.schema, document).length > 0) return undefined;
    // Several operations and no name: refused downstream; nothing to cache.
    if (!operationName && document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length > 1) return undefined;
    const operation = inlineFragments(document, operationName);
    if (operation?.operation !== OperationTypeNode.QUERY) return undefined;
    const root = this.schema.getQueryType();
    if (!root) return undefined;
    const staticTags = new Set<string>();
    const argumentTags: { field: GraphQLField<unknown, unknown>; node: FieldNode; tags: (args: Record<string, unknown>) => string[] }[] = [];
    const visit = (set: SelectionSetNode, type: GraphQLObjectType, shape: Shape): boolean => {
      for (const s of set.selections) {
        if (s.directives?.some((d) => d.name.value !== 'skip' && d.name.value !== 'include')) return false;
        if (s.kind === Kind.INLINE_FRAGMENT) {
          if (s.typeCondition && s.typeCondition.name.value !== type.name) return false;
          if (!visit(s.selectionSet, type, shape)) return false;
          continue;
        }
        if (s.kind !== Kind.FIELD) return false;
        const name = s.name.value;
        const responseKey = s.alias?.value ?? name;
        if (name === '__typename') continue;
        const field = type.getFields()[name];
        if (!field) return false;
        const entity = this.policy.entities[type.name];
        const covered = entity ? this.ownership.resolves(entity.subgraph, type.name, name) && !entity.personal?.includes(name) : this.policy.values.includes(type.name);
        if (!covered) {
          const tags = this.policy.fields[`${type.name}.${name}`];
          if (!tags) return false;
          argumentTags.push({ field, node: s, tags });
        }
        if (name === 'id' && entity) shape.idKeys.push(responseKey);
        const fieldType = getNamedType(field.type);
        if (isAbstractType(fieldType)) return false;
        if (!isObjectType(fieldType)) continue;
        const target = this.policy.entities[fieldType.name];
        if (target) staticTags.add(readModelTag(target.readModel));
        let child = shape.children.get(responseKey);
        if (!child) shape.children.set(responseKey, (child = { ...(target && { entity: fieldType.name }), idKeys: [], children: new Map() }));
        if (!s.selectionSet || !visit(s.selectionSet, fieldType, child)) return false;
      }
      return true;
    };
    const shape: Shape = { idKeys: [], children: new Map() };
    if (!visit(operation.selectionSet, root, shape)) return undefined;
    return this.planOf(operation, shape, [...staticTags], argumentTags);
  }

  private planOf(
    operation: OperationDefinitionNode,
    shape: Shape,
    staticTags: readonly string[],
    argumentTags: readonly { field: GraphQLField<unknown, unknown>; node: FieldNode; tags: (args: Record<string, unknown>) => string[] }[],
  ): CachePlan {
    const { schema } = this;
    return {
      name: operation.name?.value,
      tagsFor(variables, data) {
        const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
        if (coerced.errors) return undefined;
        const tags = new Set(staticTags);
        for (const { field, node, tags: of } of argumentTags) for (const tag of of(getArgumentValues(field, node, coerced.coerced))) tags.add(tag);
        collectEntityTags(shape, data, tags);
        return [...tags];
      },
    };
  }
}

/** Adds the tag of every object of a cached type in `value` (an answer's data, walked along the operation's shape). */
function collectEntityTags(shape: Shape, value: unknown, tags: Set<string>): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) collectEntityTags(shape, item, tags);
    return;
  }
  const object = value as Record<string, unknown>;
  if (shape.entity) {
    const id = shape.idKeys.map((k) => object[k]).find((v) => typeof v === 'string' || typeof v === 'number');
    tags.add(id === undefined ? anyTag(shape.entity) : entityTag(shape.entity, String(id)));
  }
  for (const [key, child] of shape.children) collectEntityTags(child, object[key], tags);
}
