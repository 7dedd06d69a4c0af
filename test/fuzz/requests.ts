import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { fragmentFanOut, nestedSelections } from '../../platform/testing/hostile-documents.js';
import type { SeededRandom } from '../../platform/testing/seeded-random.js';

export interface FuzzRequest {
  kind: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Query string for GET (starting with '?'), or '' */
  search: string;
  headers: Record<string, string>;
  body?: string;
}

const json = { 'content-type': 'application/json' };

/**
 * Generates requests a client could send the gateway, valid and hostile, from the client-facing
 * schema: operations built from its types (with right and wrong arguments and variables), their
 * textual mutations, malformed bodies, wrong content types and methods, huge values, deep
 * nesting, alias, directive and fragment bombs, batches and GET requests.
 */
export class RequestFuzzer {
  private readonly queryFields: [string, GraphQLField<unknown, unknown>][];
  private readonly mutationFields: [string, GraphQLField<unknown, unknown>][];

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rng: SeededRandom,
    private readonly ids: { productIds: string[]; tokens: string[] },
  ) {
    this.queryFields = Object.entries(schema.getQueryType()?.getFields() ?? {});
    this.mutationFields = Object.entries(schema.getMutationType()?.getFields() ?? {});
  }

  next(): FuzzRequest {
    const r = this.rng;
    const kinds: [number, () => FuzzRequest][] = [
      [25, () => this.post('valid query', { query: this.operation('query') })],
      [10, () => this.post('valid mutation', { query: this.operation('mutation') }, this.auth())],
      [12, () => this.post('mutated text', { query: this.mutate(this.operation(r.pick(['query', 'mutation']))) }, this.auth())],
      [8, () => this.post('wrong variables', this.withWrongVariables())],
      [8, () => this.malformedBody()],
      [4, () => this.post('huge values', this.hugeValues())],
      [4, () => this.post('deep nesting', { query: r.chance(0.5) ? nestedSelections(r.int(10, 4000)) : `{ products(filter: { category: ${'['.repeat(r.int(5, 3000))}"x"${']'.repeat(r.int(0, 3000))} }) { totalCount } }` })],
      [6, () => this.post('bomb', { query: this.bomb() })],
      [4, () => ({ kind: 'batch', method: 'POST', search: '', headers: json, body: JSON.stringify(Array.from({ length: r.int(0, 50) }, () => ({ query: this.operation('query') }))) })],
      [8, () => this.get()],
      [3, () => ({ kind: 'method', method: r.pick(['PUT', 'DELETE'] as const), search: '', headers: json, body: JSON.stringify({ query: '{ __typename }' }) })],
      [4, () => this.post('subscription over HTTP', { query: `subscription { stockChanged { stock } }` })],
      [4, () => this.post('bad auth', { query: this.operation('query') }, { authorization: r.pick(['Bearer', 'Bearer x.y.z', 'Basic Zm9vOmJhcg==', `Bearer ${r.headerValue(200)}`, 'bearer  ', `Bearer ${'a'.repeat(r.int(1, 15_000))}`]) })],
    ];
    const total = kinds.reduce((sum, [w]) => sum + w, 0);
    let roll = r.next() * total;
    for (const [weight, make] of kinds) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return kinds[0]![1]();
  }

  private post(kind: string, body: unknown, headers: Record<string, string> = {}): FuzzRequest {
    return { kind, method: 'POST', search: '', headers: { ...json, ...headers }, body: JSON.stringify(body) };
  }

  private auth(): Record<string, string> {
    return this.ids.tokens.length > 0 && this.rng.chance(0.6) ? { authorization: `Bearer ${this.rng.pick(this.ids.tokens)}` } : {};
  }

  /** A random operation built from the schema, with literal arguments (mostly well typed). */
  operation(kind: 'query' | 'mutation'): string {
    const fields = kind === 'query' ? this.queryFields : this.mutationFields;
    const count = this.rng.int(1, 3);
    const selections = Array.from({ length: count }, (_, i) => {
      const [name, field] = this.rng.pick(fields);
      return `${count > 1 ? `f${i}: ` : ''}${this.field(name, field, 0)}`;
    });
    return `${kind} ${this.rng.chance(0.5) ? `Op${this.rng.int(0, 9)} ` : ''}{ ${selections.join(' ')} }`;
  }

  private field(name: string, field: GraphQLField<unknown, unknown>, depth: number): string {
    const args = field.args.filter((a) => isNonNullType(a.type) || this.rng.chance(0.5)).map((a) => `${a.name}: ${this.literal(a.type, 0, a)}`);
    const named = getNamedType(field.type);
    const selection = isObjectType(named) || isInterfaceType(named) ? ` { ${this.selection(named as GraphQLObjectType, depth + 1)} }` : isUnionType(named) ? ' { __typename }' : '';
    return `${name}${args.length > 0 ? `(${args.join(', ')})` : ''}${selection}`;
  }

  private selection(type: GraphQLObjectType, depth: number): string {
    const fields = Object.entries(type.getFields());
    const leaves = fields.filter(([, f]) => isScalarType(getNamedType(f.type)) || isEnumType(getNamedType(f.type)));
    if (depth > 4 || fields.length === 0) return leaves.length > 0 ? this.rng.pick(leaves)[0] : '__typename';
    const chosen = Array.from({ length: this.rng.int(1, 4) }, () => this.rng.pick(fields));
    return chosen.map(([name, f]) => this.field(name, f, depth)).join(' ');
  }

  /** A literal for an input type: usually right, sometimes wrong (a coercion error for the server to report). */
  private literal(type: GraphQLInputType, depth: number, argument?: GraphQLArgument): string {
    const r = this.rng;
    if (r.chance(0.05)) return r.pick(['null', '"x"', '12', '3.5', 'true', '[]', '{}', 'WRONG', '$undeclared']);
    if (isNonNullType(type)) return this.literal(type.ofType, depth, argument);
    if (isListType(type)) return `[${Array.from({ length: r.int(0, 3) }, () => this.literal(type.ofType, depth + 1)).join(', ')}]`;
    if (isEnumType(type)) return r.pick(type.getValues()).name;
    if (isInputObjectType(type)) {
      if (depth > 3) return '{}';
      const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || r.chance(0.4));
      return `{ ${fields.map((f) => `${f.name}: ${this.literal(f.type, depth + 1)}`).join(', ')} }`;
    }
    switch (type.name) {
      case 'Int':
        return String(argument?.name === 'first' ? r.pick([1, 5, 20, 50, 100, 101, 0, -1, 100_000]) : r.pick([0, 1, 2, -5, 99, 2_147_483_647, 2_147_483_648, r.int(-1000, 100_000)]));
      case 'Float':
        return String(r.next() * 1000);
      case 'Boolean':
        return r.chance(0.5) ? 'true' : 'false';
      case 'ID':
        return JSON.stringify(this.ids.productIds.length > 0 && r.chance(0.6) ? r.pick(this.ids.productIds) : r.pick(['1', 'not-an-id', '00000000-0000-0000-0000-000000000000', r.string(40)]));
      default:
        return JSON.stringify(r.chance(0.9) ? r.string(30) : r.string(3000));
    }
  }

  /** Deletes, duplicates or inserts characters and tokens: mostly syntax and validation errors. */
  private mutate(text: string): string {
    const r = this.rng;
    let out = text;
    for (let i = r.int(1, 4); i > 0; i--) {
      const at = r.int(0, out.length);
      switch (r.int(0, 4)) {
        case 0:
          out = out.slice(0, at) + out.slice(at + r.int(1, 5));
          break;
        case 1:
          out = out.slice(0, at) + r.pick(['{', '}', '(', ')', '[', ']', '"', '$', '@', '...', ':', '!', '#', '\\', '\u0000']) + out.slice(at);
          break;
        case 2:
          out = out.slice(0, at) + r.pick([' __typename ', ' unknownField ', ' @skip(if: true) ', ' @include ', ' ...Missing ', ' fragment F on Query { __typename } ', ' query X { a } ', ' subscription { stockChanged { stock } } ']) + out.slice(at);
          break;
        case 3:
          out = out.slice(at) + out.slice(0, at);
          break;
        default:
          out = out.slice(0, at) + out.slice(at, at + r.int(1, 20)).repeat(r.int(2, 6)) + out.slice(at);
      }
    }
    return out;
  }

  private withWrongVariables(): Record<string, unknown> {
    const r = this.rng;
    const query = r.pick([
      'query($id: ID!) { product(id: $id) { id name } }',
      'query($n: Int, $f: ProductFilter, $s: ProductSort) { products(first: $n, filter: $f, sort: $s) { totalCount edges { node { id } } } }',
      'mutation($input: RegisterInput!) { register(input: $input) { token userErrors { code } } }',
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code field } } }',
    ]);
    const value = () => r.pick<unknown>([null, 1, -1, 1.5, 'x', true, [], {}, [1, 'a'], { first: 'x' }, { category: 5 }, 'PRICE_ASC', 'NOPE', 2 ** 53, { items: [{ productId: 1, quantity: 'a' }] }]);
    const variables = r.pick<unknown>([undefined, null, 'string', 42, [1, 2], { id: value(), n: value(), f: value(), s: value(), input: value() }, { unexpected: value() }]);
    return { query, ...(variables !== undefined && { variables }), ...(r.chance(0.2) && { operationName: r.pick([null, 5, '', 'Nope', ['a']]) }) };
  }

  private hugeValues(): Record<string, unknown> {
    const r = this.rng;
    const big = 'x'.repeat(r.int(1000, 90_000));
    return r.pick<Record<string, unknown>>([
      { query: 'query($f: ProductFilter) { products(filter: $f) { totalCount } }', variables: { f: { search: big } } },
      { query: `{ products(filter: { search: ${JSON.stringify(big)} }) { totalCount } }` },
      { query: 'query($ids: [ID!]) { __typename }', variables: { ids: Array.from({ length: r.int(100, 10_000) }, (_, i) => String(i)) } },
      { query: `query { ${'__typename '.repeat(r.int(100, 9000))} }` },
      { query: `# ${big}\n{ __typename }` },
      { query: '{ __typename }', extensions: { junk: big } },
    ]);
  }

  private bomb(): string {
    const r = this.rng;
    switch (r.int(0, 4)) {
      case 0:
        return fragmentFanOut(r.int(2, 12), r.int(2, 12));
      case 1:
        return `{ ${Array.from({ length: r.int(20, 500) }, (_, i) => `a${i}: products(first: 100) { totalCount edges { node { id name } } }`).join(' ')} }`;
      case 2:
        return `{ __typename ${'@skip(if: false) '.repeat(r.int(10, 3000))} }`;
      case 3:
        return `{ ${'products(first: 1) { totalCount } '.repeat(r.int(10, 1000))} }`;
      default:
        return `{ ...A } fragment A on Query { ...B } fragment B on Query { ${r.chance(0.5) ? '...A' : '__typename'} }`;
    }
  }

  private malformedBody(): FuzzRequest {
    const r = this.rng;
    const valid = JSON.stringify({ query: this.operation('query') });
    const [headers, body] = r.pick<[Record<string, string>, string]>([
      [json, valid.slice(0, r.int(0, valid.length - 1))],
      [json, r.string(200)],
      [json, ''],
      [json, 'null'],
      [json, '"just a string"'],
      [json, '42'],
      [json, JSON.stringify({ query: 42 })],
      [json, JSON.stringify({ query: null })],
      [json, JSON.stringify({ query: { kind: 'Document' } })],
      [json, JSON.stringify({})],
      [json, `{"query": "{ __typename }", "variables": ${r.string(20)}}`],
      [{ 'content-type': r.pick(['text/plain', 'application/jsonx', 'application/json; charset=utf-16', 'application/graphql', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '']) }, valid],
      [{}, valid],
      [json, `\uFEFF${valid}`],
    ]);
    return { kind: 'malformed body', method: 'POST', search: '', headers, body };
  }

  private get(): FuzzRequest {
    const r = this.rng;
    const params = new URLSearchParams();
    if (r.chance(0.9)) params.set('query', r.chance(0.7) ? this.operation(r.chance(0.85) ? 'query' : 'mutation') : this.mutate(this.operation('query')));
    if (r.chance(0.2)) params.set('variables', r.chance(0.5) ? '{"n": 5}' : r.string(20));
    if (r.chance(0.1)) params.set('operationName', r.string(10));
    if (r.chance(0.1)) params.set('extensions', r.string(30));
    return { kind: 'GET', method: 'GET', search: `?${params.toString()}`, headers: r.chance(0.5) ? { 'apollo-require-preflight': 'true' } : {} };
  }
}
