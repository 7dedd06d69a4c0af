import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

export interface OperationMeasure {
  depth: number;
  aliases: number;
  cost: number;
}

/** A list field without `first` counts as this many items. */
const DEFAULT_LIST_SIZE = 10;

function argumentNumber(value: ValueNode | undefined, variables: Record<string, unknown>): number | undefined {
  if (!value) return undefined;
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === 'number' ? v : undefined;
  }
  return undefined;
}

/**
 * Measures an operation statically: selection depth, number of aliases, and a cost where every
 * field costs 1 times the number of items its parents can return (taken from `first`, or a
 * default for other lists). Connections thus cost what they can actually fetch.
 */
export function measureOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> = {}): OperationMeasure {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  let aliases = 0;
  let maxDepth = 0;
  const root = operation?.operation === OperationTypeNode.MUTATION ? schema.getMutationType() : operation?.operation === OperationTypeNode.SUBSCRIPTION ? schema.getSubscriptionType() : schema.getQueryType();
  // `pageSize`: a `first` given on a connection, which sizes the lists inside it (`edges`).
  const visit = (set: SelectionSetNode, parent: GraphQLOutputType | null | undefined, depth: number, multiplier: number, seen: Set<string>, pageSize?: number): number => {
    let cost = 0;
    const named = parent ? getNamedType(parent) : undefined;
    const fields: Record<string, GraphQLField<unknown, unknown>> = named && (isObjectType(named) || isInterfaceType(named)) ? named.getFields() : {};
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.alias) aliases++;
        if (selection.name.value.startsWith('__')) continue;
        maxDepth = Math.max(maxDepth, depth);
        cost += multiplier;
        const field = fields[selection.name.value];
        if (selection.selectionSet) {
          const first = argumentNumber(selection.arguments?.find((a) => a.name.value === 'first')?.value, variables);
          const isList = field ? isListType(getNullableType(field.type)) : false;
          if (isList) cost += visit(selection.selectionSet, field?.type, depth + 1, multiplier * Math.max(1, first ?? pageSize ?? DEFAULT_LIST_SIZE), seen);
          else cost += visit(selection.selectionSet, field?.type, depth + 1, multiplier, seen, first ?? (field ? undefined : pageSize));
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) as GraphQLOutputType | undefined) : parent;
        cost += visit(selection.selectionSet, type ?? parent, depth, multiplier, seen, pageSize);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue; // cycles are rejected by validation anyway
        const type = schema.getType(fragment.typeCondition.name.value) as GraphQLOutputType | undefined;
        cost += visit(fragment.selectionSet, type ?? parent, depth, multiplier, new Set([...seen, fragment.name.value]), pageSize);
      }
    }
    return cost;
  };
  const cost = operation && root ? visit(operation.selectionSet, root, 1, 1, new Set()) : 0;
  return { depth: maxDepth, aliases, cost };
}

/** Throws a coded error (QUERY_TOO_COMPLEX, HTTP 400) naming the limit that was exceeded. */
export function enforceLimits(measure: OperationMeasure, limits: OperationLimits): void {
  const tooComplex = (what: string, actual: number, limit: number) =>
    new GraphQLError(`operation ${what} is ${actual}, above the limit of ${limit}`, { extensions: { code: 'QUERY_TOO_COMPLEX', limit: what, actual, max: limit, http: { status: 400 } } });
  if (measure.depth > limits.maxDepth) throw tooComplex('depth', measure.depth, limits.maxDepth);
  if (measure.aliases > limits.maxAliases) throw tooComplex('alias count', measure.aliases, limits.maxAliases);
  if (measure.cost > limits.maxCost) throw tooComplex('cost', measure.cost, limits.maxCost);
}
