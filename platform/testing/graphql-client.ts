import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[];
  /** `position` (a mutation's, for read-your-writes), `readModels`, ... */
  extensions?: Record<string, unknown>;
  raw: string;
}

/** A plain HTTP GraphQL call, as a storefront would make it. */
export async function graphql<T = Record<string, unknown>>(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const raw = await response.text();
  const body = JSON.parse(raw) as Omit<GraphQLResponse<T>, 'status' | 'raw'>;
  return { status: response.status, ...body, raw };
}

export function wsClient(httpUrl: string, connectionParams: Record<string, string> = {}): Client {
  return createClient({ url: httpUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
}

/** Registers a fresh account through the gateway; returns its id and the Authorization header to use. */
export async function signUp(gatewayUrl: string, role: 'CUSTOMER' | 'SELLER' = 'SELLER'): Promise<{ userId: string; token: string; headers: Record<string, string> }> {
  const email = `${role.toLowerCase()}-${Math.random().toString(36).slice(2)}@example.test`;
  const r = await graphql<{ register: { token: string | null; user: { id: string } | null; userErrors: unknown[] } }>(
    gatewayUrl,
    'mutation($input: RegisterInput!) { register(input: $input) { token user { id } userErrors { code message field } } }',
    { input: { email, password: 'a long enough password', name: `Test ${role.toLowerCase()}`, role } },
  );
  const payload = r.data?.register;
  if (!payload?.token || !payload.user) throw new Error(`sign-up failed: ${r.raw}`);
  return { userId: payload.user.id, token: payload.token, headers: { authorization: `Bearer ${payload.token}` } };
}
