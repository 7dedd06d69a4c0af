import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverAudits, type Audit } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

/*
 * The GraphQL-over-HTTP server audits of `graphql-http` (https://github.com/graphql/graphql-http),
 * run against the gateway's /graphql of a running system, in development and in production mode.
 * Every MUST passes (one test per audit). SHOULD and MAY audits that fail do not fail the suite;
 * they are listed (with the reason and the answer) in the test output, and the table below says why
 * each one fails. A failing SHOULD or MAY that is not in the table is printed as UNEXPLAINED.
 *
 * | audit | mode | why it fails |
 * |-------|------|--------------|
 * | 572B SHOULD use 200 on document parsing failure when accepting application/json | both | The gateway's operation guard parses every document before Apollo and answers a syntax error with 400 GRAPHQL_PARSE_FAILED, whatever the Accept header; Apollo Server (4+) does the same for the documents it parses. The spec's SHOULD 200 is for legacy `application/json` clients; 400 is what Apollo clients expect. |
 * | FDE2 SHOULD use 200 on document validation failure when accepting application/json | both | The probe `{ 8f31403dfe404bccbb0e835f2629c6a7 }` is not valid syntax (a name cannot start with a digit), so it is the parse failure above (400 GRAPHQL_PARSE_FAILED from the guard). A real validation failure (`{ products { nope } }`) is answered 400 GRAPHQL_VALIDATION_FAILED by Apollo Server, which answers validation errors with 400 even to `application/json` clients. |
 * | 7B9B SHOULD use 200 on variable coercion failure when accepting application/json | both | The probe `query CoerceFailure($id: ID!) { __typename }` never uses `$id`, so it fails validation (NoUnusedVariables, 400 GRAPHQL_VALIDATION_FAILED) before coercion; a real coercion failure is answered 400 BAD_USER_INPUT by Apollo Server. Same policy as above. |
 * | 2EA1 SHOULD allow map {variables} when accepting application/graphql-response+json | production | The probe queries `__type(name: $name)`; production turns introspection off, so Apollo refuses it with 400 INTROSPECTION_DISABLED. The same request with a catalog query is served (see the production MUST 28B9 below). |
 * | 5A70 MAY accept application/x-www-form-urlencoded GET requests | both | Apollo Server's CSRF prevention blocks a GET without `content-type`, `apollo-require-preflight` or `x-apollo-operation-name` (400); browsers could otherwise send it cross-site as a "simple" request. With one of those headers GET is served. |
 * | D6D5, 6A70 MAY allow URL-encoded JSON {variables} in GETs | both | The same CSRF prevention (the probes send only `accept`); in production also introspection off (`__type`). |
 *
 * In production the probes of two MUSTs query `__type` (introspection), which production refuses
 * by policy with 400 INTROSPECTION_DISABLED: 28B9 (map {variables}, application/json) and BF61
 * (UTF-8 request). For those, the test asserts that the refusal is exactly that policy and checks
 * the requirement itself with the same request over a catalog query instead.
 *
 * Beyond the audits: `FAST-PATH-22EB` repeats audit 22EB (accept application/graphql-response+json
 * and match the content-type) with a query one subgraph answers, which the gateway forwards on its
 * fast path instead of through Apollo (the audit's `{ __typename }` never takes it). It failed until
 * the fast path passed the client's Accept header on; it is asserted, so that it stays fixed.
 */

const INTROSPECTION_PROBES = new Set(['BF61', '2EA1', '28B9', 'D6D5', '6A70']);
/** Why each SHOULD/MAY fails, by audit id (and mode): what the table above says, in short. */
const EXPLAINED: Record<string, { modes: ('development' | 'production')[]; why: string }> = {
  '572B': { modes: ['development', 'production'], why: 'parse errors are answered 400 GRAPHQL_PARSE_FAILED (operation guard, as Apollo Server) whatever the Accept header' },
  FDE2: { modes: ['development', 'production'], why: 'the probe is a parse error (a name starting with a digit): 400 GRAPHQL_PARSE_FAILED; real validation errors are 400 GRAPHQL_VALIDATION_FAILED (Apollo Server)' },
  '7B9B': { modes: ['development', 'production'], why: 'the probe fails validation first (unused $id): 400 GRAPHQL_VALIDATION_FAILED; real coercion errors are 400 BAD_USER_INPUT (Apollo Server)' },
  '2EA1': { modes: ['production'], why: 'the probe uses __type; production turns introspection off (400 INTROSPECTION_DISABLED)' },
  '5A70': { modes: ['development', 'production'], why: 'Apollo CSRF prevention: a GET needs content-type, apollo-require-preflight or x-apollo-operation-name' },
  D6D5: { modes: ['development', 'production'], why: 'Apollo CSRF prevention (and, in production, introspection off)' },
  '6A70': { modes: ['development', 'production'], why: 'Apollo CSRF prevention (and, in production, introspection off)' },
};

/** The production substitutes for MUST audits whose probe is an introspection query (same request, a catalog query). */
const SUBSTITUTES: Record<string, { headers: Record<string, string>; body: unknown }> = {
  BF61: { headers: { 'content-type': 'application/json; charset=utf-8' }, body: { query: '{ products(filter: { search: "Run🏃Swim🏊" }) { totalCount } }' } },
  '28B9': {
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: { query: 'query Search($search: String) { products(filter: { search: $search }) { totalCount } }', variables: { search: 'sometype' } },
  },
};

interface Failure {
  mode: string;
  id: string;
  name: string;
  reason: string;
  status: number;
  contentType: string | null;
  body: string;
}

/** A check shaped like an audit, for requirements the audit suite cannot reach. */
function fastPathAudit(url: () => string): Audit {
  return {
    id: 'FAST-PATH-22EB',
    name: 'SHOULD accept application/graphql-response+json and match the content-type (a query the gateway forwards to one subgraph)',
    fn: async () => {
      const response = await fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: '{ products(first: 1) { totalCount } }' }),
      });
      const base = { id: 'FAST-PATH-22EB', name: 'SHOULD accept application/graphql-response+json and match the content-type (a query the gateway forwards to one subgraph)' } as const;
      if (response.status !== 200) return { ...base, status: 'warn', reason: 'Response status code is not 200', response };
      if (!response.headers.get('content-type')?.includes('application/graphql-response+json')) {
        return { ...base, status: 'warn', reason: 'Response header content-type does not contain application/graphql-response+json', response };
      }
      return { ...base, status: 'ok' };
    },
  };
}

const failures: Failure[] = [];

afterAll(() => {
  if (failures.length === 0) return;
  const lines = failures.map((f) => {
    const explained = EXPLAINED[f.id]?.modes.includes(f.mode as 'development') ? EXPLAINED[f.id]!.why : 'UNEXPLAINED: add it to the table in test/graphql-over-http.e2e.test.ts';
    return `  [${f.mode}] ${f.id} ${f.name}\n      ${f.reason}: HTTP ${f.status} ${f.contentType ?? ''} ${f.body.trim().slice(0, 240)}\n      why: ${explained}`;
  });
  console.log(`GraphQL over HTTP: ${failures.length} SHOULD/MAY audits fail (not required):\n${lines.join('\n')}`);
});

describe.each([
  { mode: 'development' as const, env: {} },
  { mode: 'production' as const, env: { NODE_ENV: 'production', JWT_SECRET: randomBytes(32).toString('hex'), WEBHOOK_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}` } },
])('GraphQL over HTTP audits (graphql-http) against the gateway, $mode mode', ({ mode, env }) => {
  const dataDir = mkdtempSync(join(tmpdir(), `graphql-over-http-${mode}-`));
  let system: RunningSystem;
  const url = () => system.gatewayUrl;

  beforeAll(async () => {
    system = await startSystem(
      loadConfig({ DATA_DIR: dataDir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', NOTIFICATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false', ...env }),
      { logger: createLogger('graphql-over-http-e2e', 'silent') },
    );
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const audits = [...serverAudits({ url }), fastPathAudit(url)];

  it('runs every MUST audit the suite has', () => {
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(13);
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name}`, async ({ annotate }) => {
      const result = await audit.fn();
      if (result.status === 'ok') return;
      const body = await result.response.text();
      const answer = `HTTP ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.trim()}`;
      if (audit.name.startsWith('MUST') || audit.id === 'FAST-PATH-22EB') {
        const substitute = SUBSTITUTES[audit.id];
        if (mode === 'production' && substitute && INTROSPECTION_PROBES.has(audit.id)) {
          // The probe is refused by the introspection policy, nothing else ...
          expect(result.response.status, answer).toBe(400);
          expect((JSON.parse(body) as { errors: { extensions?: { validationErrorCode?: string } }[] }).errors.map((e) => e.extensions?.validationErrorCode), answer).toEqual(['INTROSPECTION_DISABLED']);
          // ... and the requirement holds for the same request over a catalog query.
          const response = await fetch(url(), { method: 'POST', headers: substitute.headers, body: JSON.stringify(substitute.body) });
          const text = await response.text();
          expect(response.status, text).toBe(200);
          expect(response.headers.get('content-type')).toContain('application/json');
          expect((JSON.parse(text) as { data?: unknown }).data, text).toEqual({ products: { totalCount: 0 } });
          return;
        }
        expect.fail(`${audit.id} ${audit.name}: ${result.reason}; ${answer}`);
      }
      failures.push({ mode, id: audit.id, name: audit.name, reason: result.reason, status: result.response.status, contentType: result.response.headers.get('content-type'), body });
      await annotate(`${result.reason}; ${answer.slice(0, 300)}`, result.status === 'warn' ? 'warning' : 'notice');
    });
  }
});
