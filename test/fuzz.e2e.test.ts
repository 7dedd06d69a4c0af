import { readFileSync } from 'node:fs';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph } from '../gateway/compose.js';
import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';
import { SeededRandom } from '../platform/testing/seeded-random.js';
import { RequestFuzzer, type FuzzRequest } from './fuzz/requests.js';

const OPERATIONS = Number(process.env.FUZZ_OPERATIONS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 8;
/**
 * The system runs with a bounded heap (a leak, or a cache clients can grow without limit, ends
 * it with an out-of-memory crash, which fails the test), and its resident memory stays under this.
 */
const HEAP_LIMIT_MIB = 384;
const RSS_LIMIT_BYTES = 640 * 1024 * 1024;

function clientSchema() {
  const subgraphs = ['product', 'order', 'user'].map((name) => ({ name, url: `http://${name}`, sdl: print(subgraphTypeDefs(new URL(`../subgraphs/${name}/schema.graphql`, import.meta.url))) }));
  return composeSupergraph(subgraphs).apiSchema;
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Number(/(\d+)/.exec(line)![1]) * 1024 : 0;
}

interface Failure {
  request: FuzzRequest;
  status: number;
  problem: string;
  body: string;
}

/** What is wrong with an answer, if anything: a 5xx, a body that is not JSON, an uncoded error, a stack trace. */
function problemWith(status: number, contentType: string | null, text: string): string | undefined {
  if (status >= 500) return `HTTP ${status}`;
  if (/\bat [\w.<>]+ \(?[^)\s]+:\d+:\d+\)?/.test(text) || /stacktrace/i.test(text)) return 'a stack trace';
  if (!contentType?.includes('json')) return `content-type ${contentType ?? '(none)'}`;
  let body: { errors?: unknown };
  try {
    body = JSON.parse(text) as { errors?: unknown };
  } catch {
    return 'a body that is not JSON';
  }
  if (status >= 400 && !Array.isArray(body.errors)) return `HTTP ${status} without errors`;
  for (const error of Array.isArray(body.errors) ? (body.errors as { message?: unknown; extensions?: { code?: unknown } }[]) : []) {
    if (typeof error.message !== 'string' || typeof error.extensions?.code !== 'string') return `an error without a code: ${JSON.stringify(error).slice(0, 200)}`;
    if (error.extensions.code === 'INTERNAL_SERVER_ERROR') return `an internal error: ${error.message}`;
  }
  return undefined;
}

describe(`fuzzing the gateway with ${OPERATIONS} generated requests (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  let system: SystemProcess;

  beforeAll(async () => {
    system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '100000000', LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: '100000000', NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MIB}` });
  }, 90_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('never crashes, never answers a client mistake with a 5xx, codes every error and keeps its memory bounded', { timeout: 600_000 }, async () => {
    console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const catalog = await graphql<{ products: { edges: { node: { id: string } }[] } }>(system.gatewayUrl, '{ products(first: 20) { edges { node { id } } } }');
    const productIds = catalog.data!.products.edges.map((e) => e.node.id);
    const fuzzer = new RequestFuzzer(clientSchema(), new SeededRandom(SEED), { productIds, tokens: [seller.token, customer.token] });
    const requests = Array.from({ length: OPERATIONS }, () => fuzzer.next());

    const pid = system.child.pid!;
    const baseline = rssBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 100);
    const byStatus = new Map<number, number>();
    const byKind = new Map<string, number>();
    const failures: Failure[] = [];
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const request = requests[i]!;
        byKind.set(request.kind, (byKind.get(request.kind) ?? 0) + 1);
        let status = 0;
        let text = '';
        let contentType: string | null = null;
        try {
          const response = await fetch(`${system.gatewayUrl}${request.search}`, { method: request.method, headers: request.headers, ...(request.body !== undefined && { body: request.body }) });
          status = response.status;
          contentType = response.headers.get('content-type');
          text = await response.text();
        } catch (error) {
          failures.push({ request, status: 0, problem: `no answer: ${String(error)}`, body: '' });
          continue;
        }
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        const problem = problemWith(status, contentType, text);
        if (problem) failures.push({ request, status, problem, body: text.slice(0, 500) });
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const alive = system.child.exitCode === null && system.child.signalCode === null;
    const health = alive ? (await fetch(new URL('/health/ready', system.gatewayUrl))).status : 0;
    const summary = {
      seed: SEED,
      operations: requests.length,
      seconds: Number(seconds.toFixed(1)),
      byStatus: Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)),
      byKind: Object.fromEntries(byKind),
      rssMiB: { baseline: Math.round(baseline / 2 ** 20), peak: Math.round(peak / 2 ** 20) },
      failures: failures.length,
    };
    console.log(`fuzz summary: ${JSON.stringify(summary)}`);
    for (const f of failures.slice(0, 10)) console.log(`fuzz failure (${f.problem}, HTTP ${f.status}) for ${JSON.stringify(f.request).slice(0, 600)}\n  answer: ${f.body}`);

    expect(alive, 'the system process is still running').toBe(true);
    expect(health).toBe(200);
    expect(failures.map((f) => `${f.request.kind}: ${f.problem}`)).toEqual([]);
    expect([...byStatus.values()].reduce((a, b) => a + b, 0)).toBe(OPERATIONS);
    expect(peak).toBeLessThan(RSS_LIMIT_BYTES);
  });
});
