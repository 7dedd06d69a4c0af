import {
  getNamedType,
  GraphQLError,
  isAbstractType,
  isObjectType,
  Kind,
  print,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
} from 'graphql';
import type { Ownership } from './ownership.js';

/*
 * Completing subscription events across subgraphs. The subgraph that owns a subscription field
 * gets the client's operation with the fields it cannot resolve cut out (and, on entities, their
 * key fields added under reserved aliases); for every event the gateway then fetches the cut
 * fields from the subgraphs that own them, through `_entities`, level by level, and returns
 * exactly the shape the client asked for.
 */

const TYPENAME = '__sf_typename';
const keyAlias = (field: string) => `__sf_key_${field}`;

type Data = Record<string, unknown>;
export type EntityFetch = (subgraph: string, query: string, variables: Record<string, unknown>) => Promise<{ data?: { _entities?: (Data | null)[] } | null; errors?: readonly { message: string }[] }>;

/** Replaces fragment spreads with inline fragments, so selections can be cut and re-printed alone. */
export function inlineFragments(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return undefined;
  const inline = (set: SelectionSetNode, seen: ReadonlySet<string>): SelectionSetNode => ({
    ...set,
    selections: set.selections.map((s): SelectionNode => {
      if (s.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(s.name.value);
        if (!fragment || seen.has(s.name.value)) return { kind: Kind.INLINE_FRAGMENT, selectionSet: { kind: Kind.SELECTION_SET, selections: [] } };
        return { kind: Kind.INLINE_FRAGMENT, typeCondition: fragment.typeCondition, directives: s.directives ?? [], selectionSet: inline(fragment.selectionSet, new Set([...seen, s.name.value])) };
      }
      return s.selectionSet ? { ...s, selectionSet: inline(s.selectionSet, seen) } : s;
    }),
  });
  return { ...operation, selectionSet: inline(operation.selectionSet, new Set()) };
}

const field = (name: string, alias?: string): FieldNode => ({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: name }, ...(alias && { alias: { kind: Kind.NAME, value: alias } }) });

export class EntityCompleter {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly ownership: Ownership,
  ) {}

  private fieldsOf(type: GraphQLNamedType | undefined) {
    return type && isObjectType(type) ? type.getFields() : {};
  }

  /**
   * The part of a selection set that `subgraph` can resolve on `type`. Returns whether anything
   * was cut anywhere below (then the event needs completing).
   */
  plan(set: SelectionSetNode, type: GraphQLNamedType | undefined, subgraph: string): { set: SelectionSetNode; cut: boolean } {
    let cut = false;
    const selections: SelectionNode[] = [];
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (type && isObjectType(type) && !this.ownership.resolves(subgraph, type.name, s.name.value)) {
          cut = true;
          continue;
        }
        if (s.selectionSet) {
          const child = getNamedType(this.fieldsOf(type)[s.name.value]?.type);
          const planned = this.plan(s.selectionSet, child, subgraph);
          cut ||= planned.cut;
          selections.push({ ...s, selectionSet: planned.set });
        } else {
          selections.push(s);
        }
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        const narrowed = s.typeCondition ? this.schema.getType(s.typeCondition.name.value) : type;
        const planned = this.plan(s.selectionSet, narrowed ?? type, subgraph);
        cut ||= planned.cut;
        selections.push({ ...s, selectionSet: planned.set });
      }
    }
    // Every object carries its type name, and entities their keys, so that a later fetch can find
    // them (not the root: a subscription selects exactly one root field).
    const isRoot = type !== undefined && type === this.schema.getSubscriptionType();
    const named = type && !isRoot && (isObjectType(type) || isAbstractType(type)) ? type : undefined;
    if (named) {
      selections.push(field('__typename', TYPENAME));
      for (const key of (isObjectType(named) && this.ownership.key(named.name)) || []) selections.push(field(key, keyAlias(key)));
    }
    return { set: { ...set, selections }, cut };
  }

  /** Fills in what the producing subgraph could not resolve, for a list of objects sharing one selection. */
  async complete(objects: Data[], set: SelectionSetNode, type: GraphQLNamedType | undefined, producer: string, fetch: EntityFetch, variables: { definitions: readonly VariableDefinitionNode[]; values: Record<string, unknown> }, errors: GraphQLError[]): Promise<void> {
    if (objects.length === 0) return;
    // Group objects by concrete type (abstract fields), then look at their fields.
    const byType = new Map<string, Data[]>();
    for (const o of objects) {
      const name = typeof o[TYPENAME] === 'string' ? (o[TYPENAME]) : type?.name;
      if (name) byType.set(name, [...(byType.get(name) ?? []), o]);
    }
    for (const [typeName, group] of byType) {
      const concrete = this.schema.getType(typeName) as GraphQLObjectType | undefined;
      const fields = this.fieldsOf(concrete);
      const selected = this.selectedFields(set, typeName);
      const missing = selected.filter((s) => !this.ownership.resolves(producer, typeName, s.name.value));
      // Fetch missing fields from their owners, one _entities call per owner.
      const byOwner = new Map<string, FieldNode[]>();
      for (const m of missing) {
        const owner = this.ownership.ownerOf(typeName, m.name.value);
        if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), m]);
      }
      for (const [owner, missingFields] of byOwner) {
        const key = this.ownership.key(typeName) ?? [];
        const representations = group.map((o) => ({ __typename: typeName, ...Object.fromEntries(key.map((k) => [k, o[keyAlias(k)]])) }));
        const planned = this.plan({ kind: Kind.SELECTION_SET, selections: missingFields }, concrete, owner);
        const query = this.entitiesQuery(typeName, planned.set, variables.definitions);
        const response = await fetch(owner, query, { ...variables.values, representations });
        for (const e of response.errors ?? []) errors.push(new GraphQLError(e.message, { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', subgraph: owner } }));
        const entities = response.data?._entities ?? [];
        group.forEach((o, i) => Object.assign(o, entities[i] ?? {}));
        await this.complete(group.map((_, i) => entities[i]).filter((e): e is Data => !!e), planned.set, concrete, owner, fetch, variables, errors);
      }
      // Recurse into the fields the producer did resolve.
      for (const s of selected) {
        if (!s.selectionSet || missing.includes(s)) continue;
        const responseKey = s.alias?.value ?? s.name.value;
        const children = group.flatMap((o) => flatten(o[responseKey]));
        await this.complete(children, s.selectionSet, getNamedType(fields[s.name.value]?.type), producer, fetch, variables, errors);
      }
    }
  }

  private selectedFields(set: SelectionSetNode, typeName: string): FieldNode[] {
    const out: FieldNode[] = [];
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD && !s.name.value.startsWith('__')) out.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT && (!s.typeCondition || s.typeCondition.name.value === typeName || this.isPossible(s.typeCondition.name.value, typeName))) out.push(...this.selectedFields(s.selectionSet, typeName));
    }
    return out;
  }

  private isPossible(abstract: string, concrete: string): boolean {
    const a = this.schema.getType(abstract);
    const c = this.schema.getType(concrete);
    return !!a && !!c && isAbstractType(a) && isObjectType(c) && this.schema.isSubType(a, c);
  }

  private entitiesQuery(typeName: string, set: SelectionSetNode, definitions: readonly VariableDefinitionNode[]): string {
    const used = new Set<string>();
    visit(set, { Variable: (node) => void used.add(node.name.value) });
    const declared = definitions.filter((d) => used.has(d.variable.name.value)).map((d) => print(d));
    return `query Complete($representations: [_Any!]!${declared.map((d) => `, ${d}`).join('')}) { _entities(representations: $representations) { ... on ${typeName} ${print(set)} } }`;
  }
}

function flatten(value: unknown): Data[] {
  if (Array.isArray(value)) return value.flatMap(flatten);
  return value && typeof value === 'object' ? [value as Data] : [];
}

/**
 * The client's shape: exactly the selected fields (by response key), in selection order, without
 * the reserved aliases the plan added.
 */
export function project(schema: GraphQLSchema, value: unknown, set: SelectionSetNode, typeName: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => project(schema, v, set, typeName));
  if (!value || typeof value !== 'object') return value;
  const data = value as Data;
  const concrete = typeof data[TYPENAME] === 'string' ? (data[TYPENAME]) : typeName;
  const out: Data = {};
  const walk = (selections: SelectionSetNode) => {
    for (const s of selections.selections) {
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        if (s.name.value === '__typename') {
          out[key] = concrete;
          continue;
        }
        const type = concrete ? schema.getType(concrete) : undefined;
        const child = type && isObjectType(type) ? getNamedType(type.getFields()[s.name.value]?.type)?.name : undefined;
        out[key] = s.selectionSet ? project(schema, data[key] ?? null, s.selectionSet, child) : (data[key] ?? null);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        const condition = s.typeCondition?.name.value;
        if (!condition || condition === concrete || (concrete && isPossibleType(schema, condition, concrete))) walk(s.selectionSet);
      }
    }
  };
  walk(set);
  return out;
}

function isPossibleType(schema: GraphQLSchema, abstract: string, concrete: string): boolean {
  const a = schema.getType(abstract);
  const c = schema.getType(concrete);
  return !!a && !!c && isAbstractType(a) && isObjectType(c) && schema.isSubType(a, c);
}
