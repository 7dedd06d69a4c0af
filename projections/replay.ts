/**
 * Replay CLI: rebuilds a read model from the first event while the old one keeps serving, then
 * switches over, with a progress bar. It drives the running projector process (which owns the
 * projection) through its HTTP endpoint, so it works the same on embedded and real servers.
 *
 *   npm run replay -- product-catalog [--url http://127.0.0.1:4010] [--token $ADMIN_TOKEN]
 *   npm run replay -- product-catalog --retry-parked   (retries the events it parked instead)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

interface Status {
  name: string;
  position: number;
  rebuild: { state: string; applied: number; target: number; position: number; error?: string };
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

const HOW_TO_START = 'start the system with `npm start` (or the projector process, `node dist/projections/index.js`), or point --url or PROJECTOR_PORT at the running projector';

/** What kept a request from reaching the server: the socket error's code (ECONNREFUSED, ENOTFOUND), else its message. */
function causeOf(error: unknown): string {
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** fetch from the projector, failing with where it was looked for and how to start it (not a bare "fetch failed"). */
async function call(base: string, path: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(`${base}${path}`, init);
  } catch (error) {
    throw new Error(`the projector is not reachable at ${base} (${causeOf(error)}); ${HOW_TO_START}`, { cause: error });
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: `http://127.0.0.1:${process.env.PROJECTOR_PORT ?? '4010'}` },
      token: { type: 'string', default: process.env.ADMIN_TOKEN },
      'retry-parked': { type: 'boolean', default: false },
    },
  });
  const name = positionals[0];
  if (!name) {
    console.error('usage: npm run replay -- <projection> [--retry-parked] [--url http://127.0.0.1:4010] [--token TOKEN]');
    return 2;
  }
  const headers: Record<string, string> = values.token ? { authorization: `Bearer ${values.token}` } : {};
  if (values['retry-parked']) {
    const response = await call(values.url, `/projections/retry-parked?name=${encodeURIComponent(name)}`, { method: 'POST', headers });
    const body = (await response.json().catch(() => ({}))) as { retried?: number; parked?: number; errors?: { message: string }[] };
    if (response.status !== 200) {
      console.error(`replay: ${body.errors?.[0]?.message ?? `HTTP ${response.status}`}`);
      return 1;
    }
    console.log(`replay: ${name}: retried ${body.retried ?? 0} parked event(s); ${body.parked ?? 0} still parked`);
    return body.parked ? 1 : 0;
  }
  const start = await call(values.url, `/projections/rebuild?name=${encodeURIComponent(name)}`, { method: 'POST', headers });
  if (start.status !== 202) {
    const body = (await start.json().catch(() => ({}))) as { errors?: { message: string; extensions?: { code?: string } }[] };
    const error = body.errors?.[0];
    // A refusal says its code (REBUILD_IN_PROGRESS, READ_MODEL_NEWER, NOT_REBUILDABLE) first, for scripts.
    console.error(`replay: ${error?.extensions?.code ? `${error.extensions.code}: ` : ''}${error?.message ?? `HTTP ${start.status}`}`);
    return 1;
  }
  const began = Date.now();
  for (;;) {
    await sleep(200);
    const all = (await (await call(values.url, '/projections')).json()) as Status[];
    const status = all.find((s) => s.name === name)!;
    const { state, position, target, applied } = status.rebuild;
    const fraction = target === 0 ? 1 : position / target;
    const line = `${name} ${bar(state === 'done' ? 1 : fraction)} position ${position}/${target}, ${applied} events applied, ${((Date.now() - began) / 1000).toFixed(1)} s`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
    if (state === 'done') {
      process.stderr.write(process.stderr.isTTY ? '\n' : '');
      console.log(`replay: ${name} rebuilt from ${applied} events and switched over`);
      return 0;
    }
    if (state === 'failed') {
      console.error(`\nreplay: ${name} failed: ${status.rebuild.error ?? 'unknown error'} (the previous read model still serves)`);
      return 1;
    }
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`replay: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
