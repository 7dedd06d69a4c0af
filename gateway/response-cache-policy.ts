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
import { anyTag, entityTag, fieldTag, listTag, readModelTag } from '../platform/cache/response-tags.js';
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
  /** Other fields that may be cached (`Type.field`), with the tags a response selecting them carries. */
  fields: Readonly<Record<string, FieldPolicy>>;
}

/** How answers selecting one more field are kept. */
export interface FieldPolicy {
  /**
   * The tags an answer selecting the field carries, per object it is selected on: `parentId` is
   * that object's id when the answer shows it, or when the object was looked up by an id argument
   * (see `idArgument`), else undefined.
   */
  tags: (args: Record<string, unknown>, parentId: string | undefined) => string[];
  /** The field returns the object whose id is this argument (a look-up by id), shown or not. */
  idArgument?: string;
  /** Read models the field is answered from: kept only while their projectors are heard (see ResponseCache). */
  readModels?: readonly string[];
  /** Kept at most this long: for an answer that depends on what no projection announces (scores decaying with time). */
  maxAgeSeconds?: number;
}

/** The field that answers bought-together products, and the read models behind it. */
const RECOMMENDATIONS = 'Product.recommendations';
const RECOMMENDATION_READ_MODELS = ['recommendation-co-purchases', 'recommendation-product-facts'];

/**
 * The catalog: products, lists of them (also a seller's), and their sellers' public profile (the
 * user-profiles feed announces its changes; a user's email is personal); a product's
 * bought-together recommendations and the trending lists (the same for every caller). Nothing
 * else: not `me`, `user`, orders, a user's orders or a user's recommendations.
 *
 * Recommendations: the co-purchases projection announces `fieldTag(RECOMMENDATIONS, id)` for each
 * product of a purchase, the product-facts projection `fieldTag(field)` when a product becomes
 * unavailable or available again (every answer may hold or miss it). What neither announces (the
 * trending scores that fill short lists up, decaying with time, and the popularity of the other
 * products in a list) ages out: such answers are kept 30 s (trending 10 s), as the
 * recommendation subgraph's own cache keeps them 300 s (10 s).
 */
export const RESPONSE_CACHE_POLICY: ResponseCachePolicy = {
  entities: {
    // Analytics answer per caller (the seller, an admin), a time zone only to the user themself.
    Product: { subgraph: 'product', readModel: 'product-catalog', personal: ['analytics'] },
    User: { subgraph: 'user', readModel: 'user-profiles', personal: ['email', 'timeZone'] },
  },
  values: ['Money', 'PageInfo', 'ProductConnection', 'ProductEdge'],
  fields: {
    'Query.product': { tags: (args) => [entityTag('Product', String(args.id))], idArgument: 'id' },
    'Query.products': { tags: () => [listTag('Product')] },
    'User.products': { tags: () => [listTag('Product')] },
    [RECOMMENDATIONS]: {
      tags: (_args, parentId) => [fieldTag(RECOMMENDATIONS, parentId ?? '*'), fieldTag(RECOMMENDATIONS)],
      readModels: RECOMMENDATION_READ_MODELS,
      maxAgeSeconds: 30,
    },
    'Query.trendingProducts': { tags: () => [fieldTag(RECOMMENDATIONS)], readModels: ['recommendation-product-facts'], maxAgeSeconds: 10 },
  },
};

/** Every read model a policy may serve answers from (the cache awaits their projectors' heartbeats at start). */
export function policyReadModels(policy: ResponseCachePolicy): string[] {
  return [...new Set([...Object.values(policy.entities).map((e) => e.readModel), ...Object.values(policy.fields).flatMap((f) => f.readModels ?? [])])];
}

/** Where in a response to find the objects of cached types (by response key). */
interface Shape {
  /** The entity type of the objects here, if any. */
  entity?: string;
  /** Response keys of their `id`. */
  idKeys: string[];
  /** Their id when the field that returns them looks it up by argument (the index of that field in `fields`). */
  idFrom?: number;
  /** Fields selected on them whose tags depend on the object (indices in the plan's `fields`). */
  tagged: number[];
  children: Map<string, Shape>;
}

/** A field a policy entry covers, as selected in one operation. */
interface SelectedField {
  field: GraphQLField<unknown, unknown>;
  node: FieldNode;
  policy: FieldPolicy;
}

/** A cacheable operation: its shape and how to tag an answer to it. */
export interface CachePlan {
  /** The operation's name, if it has one. */
  readonly name: string | undefined;
  /** The tags of an answer to it with these variables (undefined: variables that do not coerce). */
  tagsFor(variables: Record<string, unknown>, data: unknown): string[] | undefined;
  /** How long an answer may be kept at most (undefined: until invalidated). */
  readonly maxAgeMs: number | undefined;
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
    const fields: SelectedField[] = [];
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
        let selected: number | undefined;
        if (!covered) {
          const policy = this.policy.fields[`${type.name}.${name}`];
          if (!policy) return false;
          selected = fields.push({ field, node: s, policy }) - 1;
          shape.tagged.push(selected);
          for (const readModel of policy.readModels ?? []) staticTags.add(readModelTag(readModel));
        }
        if (name === 'id' && entity) shape.idKeys.push(responseKey);
        const fieldType = getNamedType(field.type);
        if (isAbstractType(fieldType)) return false;
        if (!isObjectType(fieldType)) continue;
        const target = this.policy.entities[fieldType.name];
        if (target) staticTags.add(readModelTag(target.readModel));
        let child = shape.children.get(responseKey);
        if (!child) shape.children.set(responseKey, (child = { ...(target && { entity: fieldType.name }), idKeys: [], tagged: [], children: new Map() }));
        if (selected !== undefined && fields[selected]!.policy.idArgument) child.idFrom = selected;
        if (!s.selectionSet || !visit(s.selectionSet, fieldType, child)) return false;
      }
      return true;
    };
    const shape: Shape = { idKeys: [], tagged: [], children: new Map() };
    if (!visit(operation.selectionSet, root, shape)) return undefined;
    return this.planOf(operation, shape, [...staticTags], fields);
  }

  private planOf(operation: OperationDefinitionNode, shape: Shape, staticTags: readonly string[], fields: readonly SelectedField[]): CachePlan {
    const { schema } = this;
    const ages = fields.flatMap((f) => (f.policy.maxAgeSeconds === undefined ? [] : [f.policy.maxAgeSeconds * 1000]));
    return {
      name: operation.name?.value,
      maxAgeMs: ages.length > 0 ? Math.min(...ages) : undefined,
      tagsFor(variables, data) {
        const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
        if (coerced.errors) return undefined;
        const args = fields.map(({ field, node }) => getArgumentValues(field, node, coerced.coerced));
        const tags = new Set(staticTags);
        collectTags(shape, data, { fields, args, tags }, undefined);
        return [...tags];
      },
    };
  }
}

/**
 * Adds the tags of an answer's data, walked along the operation's shape: of every object of a
 * cached type in it, and of every covered field per object it was selected on.
 */
function collectTags(shape: Shape, value: unknown, plan: { fields: readonly SelectedField[]; args: readonly Record<string, unknown>[]; tags: Set<string> }, lookedUp: string | undefined): void {
  const { fields, args, tags } = plan;
  if (Array.isArray(value)) {
    for (const item of value) collectTags(shape, item, plan, lookedUp);
    return;
  }
  const object = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  const shown = object && shape.idKeys.map((k) => object[k]).find((v) => typeof v === 'string' || typeof v === 'number');
  const id = shown === undefined ? lookedUp : String(shown);
  // A field of the root, or one looked up by id, is tagged even when the answer is null.
  if (object || shape.entity === undefined || lookedUp !== undefined) for (const i of shape.tagged) for (const tag of fields[i]!.policy.tags(args[i]!, id)) tags.add(tag);
  if (!object) return;
  if (shape.entity) tags.add(id === undefined ? anyTag(shape.entity) : entityTag(shape.entity, id));
  for (const [key, child] of shape.children) {
    const from = child.idFrom === undefined ? undefined : args[child.idFrom]?.[fields[child.idFrom]!.policy.idArgument!];
    collectTags(child, object[key], plan, typeof from === 'string' || typeof from === 'number' ? String(from) : undefined);
  }
}
