import { WeightedLru } from '../platform/weighted-lru.js';
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  Lexer,
  OperationTypeNode,
  parse,
  Source,
  TokenKind,
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
  /** Field selections once fragments are expanded (counted, never expanded), introspection included. */
  maxFields: number;
}

export interface DocumentLimits extends OperationLimits {
  /** Lexical tokens in the document (graphql-js counts the same ones with `parse(…, { maxTokens })`). */
  maxTokens: number;
}

export interface OperationMeasure {
  depth: number;
  aliases: number;
  cost: number;
  fields: number;
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

const ZERO: OperationMeasure = { depth: 0, aliases: 0, cost: 0, fields: 0 };

/**
 * Measures selection sets statically, in time proportional to the document: a fragment is
 * measured once per page size and its measure reused at every spread, so a fragment that spreads
 * another ten times, seven levels deep, costs eight visits, not ten million. What is measured:
 * selection depth, number of aliases and of fields as if every fragment were expanded, and a
 * cost where every field costs 1 times the number of items its parents can return (taken from
 * `first`, or a default for other lists): connections cost what they can actually fetch.
 * Introspection fields (`__schema`, `__typename`) count as fields and aliases but add no depth
 * or cost (an IDE's introspection query stays affordable).
 */
class Measurer {
  private readonly fragments: Map<string, FragmentDefinitionNode>;
  private readonly memo = new Map<string, OperationMeasure>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
  ) {
    this.fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  }

  operation(operation: OperationDefinitionNode): OperationMeasure {
    const s = this.schema;
    const root = operation.operation === OperationTypeNode.MUTATION ? s.getMutationType() : operation.operation === OperationTypeNode.SUBSCRIPTION ? s.getSubscriptionType() : s.getQueryType();
    return root ? this.set(operation.selectionSet, root, false) : ZERO;
  }

  fragment(name: string, pageSize?: number, introspection = false): OperationMeasure {
    const key = `${name}\n${pageSize ?? ''}\n${introspection}`;
    const known = this.memo.get(key);
    if (known) return known;
    const fragment = this.fragments.get(name);
    if (!fragment) return ZERO; // an unknown fragment: validation reports it
    if (this.inProgress.has(key)) {
      throw new GraphQLError(`Cannot spread fragment "${name}" within itself.`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
    }
    this.inProgress.add(key);
    const type = this.schema.getType(fragment.typeCondition.name.value) as GraphQLOutputType | undefined;
    const measure = this.set(fragment.selectionSet, type, introspection, pageSize);
    this.inProgress.delete(key);
    this.memo.set(key, measure);
    return measure;
  }

  /** `pageSize`: a `first` given on a connection, which sizes the lists inside it (`edges`). */
  private set(set: SelectionSetNode, parent: GraphQLOutputType | null | undefined, introspection: boolean, pageSize?: number): OperationMeasure {
    let depth = 0;
    let aliases = 0;
    let cost = 0;
    let fields = 0;
    const named = parent ? getNamedType(parent) : undefined;
    // Inside introspection types (`__Type`, in a fragment of an IDE's introspection query) too.
    introspection ||= named?.name.startsWith('__') ?? false;
    const known: Record<string, GraphQLField<unknown, unknown>> = named && (isObjectType(named) || isInterfaceType(named)) ? named.getFields() : {};
    const add = (m: OperationMeasure, levels: number, multiplier: number) => {
      depth = Math.max(depth, m.depth + levels);
      aliases += m.aliases;
      fields += m.fields;
      cost += m.cost * multiplier;
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        fields++;
        if (selection.alias) aliases++;
        const meta = introspection || selection.name.value.startsWith('__');
        if (!meta) {
          depth = Math.max(depth, 1);
          cost += 1;
        }
        if (!selection.selectionSet) continue;
        const field = known[selection.name.value];
        const first = argumentNumber(selection.arguments?.find((a) => a.name.value === 'first')?.value, this.variables);
        const isList = field ? isListType(getNullableType(field.type)) : false;
        const child = isList ? this.set(selection.selectionSet, field?.type, meta) : this.set(selection.selectionSet, field?.type, meta, first ?? (field ? undefined : pageSize));
        add(child, meta ? 0 : 1, isList ? Math.max(1, first ?? pageSize ?? DEFAULT_LIST_SIZE) : 1);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? (this.schema.getType(selection.typeCondition.name.value) as GraphQLOutputType | undefined) : parent;
        add(this.set(selection.selectionSet, type ?? parent, introspection, pageSize), 0, 1);
      } else {
        add(this.fragment(selection.name.value, pageSize, introspection), 0, 1);
      }
    }
    return { depth, aliases, cost, fields };
  }
}

function operationsOf(document: DocumentNode): OperationDefinitionNode[] {
  return document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
}

/** Measures one operation of a document (the first when no name is given); see Measurer. */
export function measureOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> = {}): OperationMeasure {
  const operations = operationsOf(document);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  return operation ? new Measurer(schema, document, variables).operation(operation) : ZERO;
}

const badRequest = (message: string, code: string, extensions: Record<string, unknown> = {}) => new GraphQLError(message, { extensions: { code, ...extensions, http: { status: 400 } } });

const tooComplex = (what: string, actual: number, limit: number) => badRequest(`operation ${what} is ${actual}, above the limit of ${limit}`, 'QUERY_TOO_COMPLEX', { limit: what, actual, max: limit });

/** Throws a coded error (QUERY_TOO_COMPLEX, HTTP 400) naming the limit that was exceeded. */
export function enforceLimits(measure: OperationMeasure, limits: OperationLimits): void {
  if (measure.depth > limits.maxDepth) throw tooComplex('depth', measure.depth, limits.maxDepth);
  if (measure.aliases > limits.maxAliases) throw tooComplex('alias count', measure.aliases, limits.maxAliases);
  if (measure.fields > limits.maxFields) throw tooComplex('field count', measure.fields, limits.maxFields);
  if (measure.cost > limits.maxCost) throw tooComplex('cost', measure.cost, limits.maxCost);
}

/** Brackets may nest this much deeper than selections (arguments, input objects, lists). */
const NESTING_SLACK = 16;

/**
 * Refuses a document whose tokens or bracket nesting exceed the limits, by lexing it once
 * (iterative: no recursion, so no stack to overflow) before the recursive parser sees it.
 */
function scan(query: string, limits: DocumentLimits): void {
  const maxNesting = limits.maxDepth * 2 + NESTING_SLACK;
  const lexer = new Lexer(new Source(query));
  let tokens = 0;
  let nesting = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (++tokens > limits.maxTokens) throw tooComplex('token count', tokens, limits.maxTokens);
      if (token.kind === TokenKind.BRACE_L || token.kind === TokenKind.BRACKET_L || token.kind === TokenKind.PAREN_L) {
        if (++nesting > maxNesting) throw tooComplex('nesting', nesting, maxNesting);
      } else if (token.kind === TokenKind.BRACE_R || token.kind === TokenKind.BRACKET_R || token.kind === TokenKind.PAREN_R) {
        nesting--;
      }
    }
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === 'QUERY_TOO_COMPLEX') throw error;
    throw syntaxError(error);
  }
}

function syntaxError(error: unknown): GraphQLError {
  const message = error instanceof GraphQLError ? error.message : 'the document could not be parsed';
  return badRequest(message, 'GRAPHQL_PARSE_FAILED', error instanceof GraphQLError && error.locations ? { locations: error.locations } : {});
}

/** The operation a request names (or its only one), or a coded 400 saying why there is none. */
export function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode {
  const operations = operationsOf(document);
  if (operationName) {
    const named = operations.find((o) => o.name?.value === operationName);
    if (!named) throw badRequest(`the document has no operation named "${operationName}"`, 'OPERATION_RESOLUTION_FAILURE');
    return named;
  }
  if (operations.length === 0) throw badRequest('the document contains no operation', 'OPERATION_RESOLUTION_FAILURE');
  if (operations.length > 1) throw badRequest(`the document contains ${operations.length} operations: operationName must say which to run`, 'OPERATION_RESOLUTION_FAILURE');
  return operations[0]!;
}

export interface AdmittedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

interface Verdict {
  document?: DocumentNode;
  error?: GraphQLError;
  /** Measures of variable-free operations, by operation name ('' for an anonymous one). */
  fixed: Map<string, OperationMeasure>;
}

/** Verdicts cached: at most this many, made from at most this much query text (admitted ones hold their AST). */
const CACHE_ENTRIES = 1000;
const CACHE_MAX_QUERY_CHARS = 1_000_000;

/**
 * The gateway's admission check for an operation, before anything expands, validates or plans
 * it: every step is linear in the document's size. It lexes (token count, bracket nesting),
 * parses with the same token cap, measures every operation and fragment of the document
 * (depth, aliases, expanded field count; graphql-js validation walks them all, used or not),
 * resolves the operation to run, and checks its cost with the request's variables. The verdict
 * is cached per document, so a repeated (or repeatedly hostile) document costs a map look-up.
 */
export class OperationGuard {
  private readonly verdicts = new WeightedLru<string, Verdict>(CACHE_MAX_QUERY_CHARS, CACHE_ENTRIES);

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly limits: DocumentLimits,
  ) {}

  /** Throws a coded GraphQLError (HTTP 400 in extensions.http) when the operation is refused. */
  admit(query: string, operationName: string | null | undefined, variables: Record<string, unknown> = {}): AdmittedOperation {
    const verdict = this.verdict(query);
    if (verdict.error || !verdict.document) throw verdict.error ?? syntaxError(undefined);
    const operation = selectOperation(verdict.document, operationName);
    const measure = verdict.fixed.get(operation.name?.value ?? '') ?? new Measurer(this.schema, verdict.document, variables).operation(operation);
    enforceLimits(measure, this.limits);
    return { document: verdict.document, operation };
  }

  private verdict(query: string): Verdict {
    const cached = this.verdicts.get(query);
    if (cached) return cached;
    const verdict = this.judge(query);
    this.verdicts.set(query, verdict, query.length);
    return verdict;
  }

  private judge(query: string): Verdict {
    const fixed = new Map<string, OperationMeasure>();
    try {
      scan(query, this.limits);
      let document: DocumentNode;
      try {
        document = parse(query, { maxTokens: this.limits.maxTokens });
      } catch (error) {
        throw syntaxError(error);
      }
      const measurer = new Measurer(this.schema, document, {});
      let fields = 0;
      for (const definition of document.definitions) {
        let measure: OperationMeasure;
        if (definition.kind === Kind.OPERATION_DEFINITION) {
          measure = measurer.operation(definition);
          if ((definition.variableDefinitions ?? []).length === 0) fixed.set(definition.name?.value ?? '', measure);
        } else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
          measure = measurer.fragment(definition.name.value);
        } else continue;
        fields += measure.fields;
        enforceLimits({ ...measure, cost: 0, fields }, this.limits);
      }
      return { document, fixed };
    } catch (error) {
      if (error instanceof GraphQLError) return { error, fixed };
      throw error;
    }
  }
}
