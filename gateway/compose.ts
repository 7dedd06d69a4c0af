import { setTimeout as sleep } from 'node:timers/promises';
import { composeServices } from '@apollo/composition';
import { Ownership } from './ownership.js';
import { Kind, parse, type DocumentNode, type GraphQLSchema } from 'graphql';

export interface SubgraphEndpoint {
  name: string;
  url: string;
}

export interface Supergraph {
  supergraphSdl: string;
  /** The client-facing schema (what CONTRACT.graphql describes). */
  apiSchema: GraphQLSchema;
  /** Subscription root field -> the subgraph that owns it. */
  subscriptionOwners: Map<string, SubgraphEndpoint>;
  /** Which subgraph resolves which field (to complete subscription events across subgraphs). */
  ownership: Ownership;
  endpoints: Map<string, SubgraphEndpoint>;
}

export class CompositionError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`supergraph composition failed:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'CompositionError';
  }
}

/** Asks a subgraph for its SDL (`_service { sdl }`), retrying while it starts. */
export async function fetchSubgraphSdl(endpoint: SubgraphEndpoint, options: { timeoutMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
        signal: AbortSignal.timeout(5000),
      });
      const body = (await response.json()) as { data?: { _service?: { sdl?: string } }; errors?: { message: string }[] };
      const sdl = body.data?._service?.sdl;
      if (sdl) return sdl;
      lastError = new Error(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  throw new Error(`subgraph ${endpoint.name} at ${endpoint.url} did not answer with its SDL: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

function subscriptionFields(typeDefs: DocumentNode): string[] {
  const fields: string[] = [];
  for (const def of typeDefs.definitions) {
    if ((def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) && def.name.value === 'Subscription') {
      for (const field of def.fields ?? []) fields.push(field.name.value);
    }
  }
  return fields;
}

/** Composes the supergraph from subgraph SDLs; a composition error lists every problem readably. */
export function composeSupergraph(subgraphs: readonly (SubgraphEndpoint & { sdl: string })[]): Supergraph {
  const services = subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) }));
  const result = composeServices(services);
  if (result.errors) throw new CompositionError(result.errors.map((e) => e.message));
  const subscriptionOwners = new Map<string, SubgraphEndpoint>();
  for (const service of services) {
    for (const field of subscriptionFields(service.typeDefs)) {
      const owner = subscriptionOwners.get(field);
      if (owner) throw new CompositionError([`Subscription.${field} is defined by both ${owner.name} and ${service.name}; a subscription field has one owner`]);
      subscriptionOwners.set(field, { name: service.name, url: service.url });
    }
  }
  const apiSchema = result.schema.toAPISchema().toGraphQLJSSchema();
  const ownership = new Ownership(services);
  const endpoints = new Map(services.map((s) => [s.name, { name: s.name, url: s.url }]));
  return { supergraphSdl: result.supergraphSdl, apiSchema, subscriptionOwners, ownership, endpoints };
}

export async function loadSupergraph(subgraphs: readonly SubgraphEndpoint[], options: { timeoutMs?: number } = {}): Promise<Supergraph> {
  const withSdl = await Promise.all(subgraphs.map(async (s) => ({ ...s, sdl: await fetchSubgraphSdl(s, options) })));
  return composeSupergraph(withSdl);
}
