/**
 * Benchmark (not a test): `npm run bench:peers`. The project's gateway against vanilla
 * `@apollo/gateway` + `@apollo/server` (bench/lib/vanilla-gateway.ts) over the same subgraphs,
 * each gateway in its own process as deployed (`gateway/index.ts`), the subgraphs in another
 * (`npm start`'s launcher; its own gateway is not used), the load (autocannon) from this one.
 * Gateways: the project's with identical reads coalesced (the default), the project's with
 * `GATEWAY_COALESCE_READS=false` (gateway against gateway, not cache against gateway), vanilla.
 * Rounds are interleaved (BENCH_ROUNDS, default 3, of BENCH_SECONDS, default 5, per gateway and
 * workload; BENCH_CONNECTIONS, default 50). Prints and writes (.run/bench/peers.json and .md)
 * per workload and gateway: req/s and p50/p99 (median of the rounds), CPU ms per request (the
 * gateway process's user+system time over the requests it served), peak RSS (VmHWM), and the
 * ratios to vanilla. Hive Gateway is not in it yet (issue #11, item 1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { graphql } from '../platform/testing/graphql-client.js';
import { fmt, freePort, startSystemProcess } from '../platform/testing/system-process.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const OUT = join(import.meta.dirname, '..', '.run', 'bench');

const WORKLOADS = {
  'catalog (one subgraph)': '{ products(first: 20) { edges { node { id name price { amount currency } stock } } } }',
  'catalog + seller (two subgraphs)': '{ products(first: 20) { edges { node { id name price { amount currency } stock seller { id name } } } } }',
};

interface Gateway {
  name: string;
  url: string;
  child: ChildProcess;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND; // utime, stime
}
function peakRssMB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function startGateway(name: string, script: string, env: Record<string, string>): Promise<Gateway> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}/graphql`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${name} did not answer within 60 s`);
    const answer = await graphql(url, WORKLOADS['catalog (one subgraph)']).catch(() => undefined);
    if (answer?.data) return { name, url, child };
  }
}

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('hex');
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000', JWT_SECRET: secret });
  const gateways: Gateway[] = [];
  try {
    const own = { NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, RATE_LIMIT_PER_MINUTE: '1000000000', PRODUCT_SUBGRAPH_URL: system.productUrl, ORDER_SUBGRAPH_URL: system.orderUrl, USER_SUBGRAPH_URL: system.userUrl };
    gateways.push(await startGateway('project', 'gateway/index.ts', { ...own, GATEWAY_COALESCE_READS: 'true' }));
    gateways.push(await startGateway('project, coalescing off', 'gateway/index.ts', { ...own, GATEWAY_COALESCE_READS: 'false' }));
    gateways.push(
      await startGateway('vanilla @apollo/gateway', 'bench/lib/vanilla-gateway.ts', {
        SUBGRAPHS: JSON.stringify([
          { name: 'product', url: system.productUrl },
          { name: 'order', url: system.orderUrl },
          { name: 'user', url: system.userUrl },
        ]),
      }),
    );
    // Every gateway answers every workload with the same data before anything is measured.
    for (const [workload, query] of Object.entries(WORKLOADS)) {
      const answers = await Promise.all(gateways.map((g) => graphql(g.url, query)));
      for (const [i, a] of answers.entries()) if (a.errors || !a.data) throw new Error(`${gateways[i]!.name} does not answer ${workload}: ${JSON.stringify(a).slice(0, 500)}`);
      if (new Set(answers.map((a) => JSON.stringify(a.data))).size !== 1) throw new Error(`the gateways disagree on ${workload}`);
    }
    type Sample = { rps: number; p50: number; p99: number; requests: number; cpuMs: number };
    const samples = new Map<string, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [workload, query] of Object.entries(WORKLOADS)) {
        for (const g of gateways) {
          const cpuBefore = cpuMs(g.child.pid!);
          const result = await autocannon({ url: g.url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), connections: CONNECTIONS, duration: SECONDS });
          if (result.errors > 0 || result.non2xx > 0) throw new Error(`${g.name}, ${workload}: ${result.errors} errors, ${result.non2xx} non-2xx`);
          const key = `${workload}\n${g.name}`;
          samples.set(key, [...(samples.get(key) ?? []), { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, cpuMs: cpuMs(g.child.pid!) - cpuBefore }]);
          process.stderr.write(`round ${round}: ${workload}, ${g.name}: ${fmt(result.requests.average, 0)} req/s\n`);
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rows = Object.keys(WORKLOADS).flatMap((workload) => {
      const of = (g: Gateway) => samples.get(`${workload}\n${g.name}`)!;
      const vanilla = median(of(gateways[2]!).map((s) => s.rps));
      return gateways.map((g) => {
        const s = of(g);
        const requests = s.reduce((n, x) => n + x.requests, 0);
        const rps = median(s.map((x) => x.rps));
        return { workload, gateway: g.name, rps, p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), cpuMsPerRequest: s.reduce((n, x) => n + x.cpuMs, 0) / requests, peakRssMB: peakRssMB(g.child.pid!), vsVanilla: rps / vanilla };
      });
    });
    const table = [
      `${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s per gateway and workload (medians); 2 cores shared by subgraphs, gateway and load`,
      '',
      '| workload | gateway | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | vs vanilla |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.workload} | ${r.gateway} | ${fmt(r.rps, 0)} | ${r.p50} | ${r.p99} | ${fmt(r.cpuMsPerRequest, 3)} | ${fmt(r.peakRssMB, 0)} | ${fmt(r.vsVanilla, 2)}x |`),
    ].join('\n');
    console.log(table);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'peers.json'), JSON.stringify({ connections: CONNECTIONS, rounds: ROUNDS, seconds: SECONDS, rows }, null, 2));
    writeFileSync(join(OUT, 'peers.md'), `${table}\n`);
  } finally {
    for (const g of gateways) g.child.kill('SIGTERM');
    await system.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
