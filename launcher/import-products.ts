/**
 * Bulk import CLI: creates a seller's products from a CSV file of any size, streamed (see
 * subgraphs/product/import/import.ts for the columns and the rules; the importProducts mutation
 * is the same core for small files).
 *
 *   npm run import -- products.csv --seller seller@example.com [--report rejected.csv] [--json]
 *
 * It writes to the event store the environment configures (EVENTSTORE_URL, else the embedded
 * log in DATA_DIR); the projector builds the catalog from the events as usual. The embedded log
 * takes one writing process: stop `npm start` first (the CLI says so if it is running).
 * Exit status: 0 every row imported or already there, 3 some rows rejected, 1 the import failed,
 * 2 wrong usage.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../platform/config.js';
import { DomainError, InfrastructureError } from '../platform/errors.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { loadState } from '../platform/eventsourcing/command-handler.js';
import { isUuid } from '../platform/ids.js';
import { openEventStore } from '../platform/infrastructure.js';
import type { Actor } from '../subgraphs/product/decider.js';
import { DEFAULT_IMPORT_CONCURRENCY, importProducts, type ImportCounts, type ImportRejection } from '../subgraphs/product/import/import.js';
import { emailStream, normaliseEmail, userDecider } from '../subgraphs/user/decider.js';
import type { EmailClaimed } from '../subgraphs/user/events.js';
import { userStream } from '../subgraphs/user/events.js';
import { EVENT_SCHEMAS } from '../subgraphs/event-schemas.js';

const USAGE = 'usage: npm run import -- <products.csv | -> --seller <user id or email> [--report <rejected.csv>] [--concurrency N] [--json]';
/** Rejected rows printed on stderr when there is no --report file. */
const PRINTED_REJECTIONS = 50;

class UsageError extends Error {}

/**
 * The account that will own the products, looked up in the user slice's streams: it must exist
 * and be a SELLER (or an ADMIN), as createProduct requires of its caller.
 */
async function resolveSeller(events: EventStore, who: string): Promise<Actor> {
  let userId = who;
  if (!isUuid(who)) {
    if (!who.includes('@')) throw new UsageError(`--seller: "${who}" is neither a user id nor an email address`);
    const claim = (await events.readStream(emailStream(normaliseEmail(who))))[0];
    if (!claim) throw new UsageError(`--seller: no account has the email ${normaliseEmail(who)}`);
    userId = (claim.data as EmailClaimed['data']).userId;
  }
  const user = await loadState(events, userDecider, userStream(userId));
  if (user.status !== 'registered') throw new UsageError(`--seller: no account has the id ${userId}`);
  if (user.role !== 'SELLER' && user.role !== 'ADMIN') throw new UsageError(`--seller: ${user.email} is a ${user.role}, not a SELLER`);
  return { userId: user.userId, role: user.role };
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A CSV field, quoted when it must be. */
const csvField = (value: string | number | null) => {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** Counts bytes as they pass, for the progress bar's fraction and ETA. */
async function* counted(source: AsyncIterable<Buffer>, progress: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    progress.bytes += chunk.length;
    yield chunk;
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seller: { type: 'string' },
      report: { type: 'string' },
      concurrency: { type: 'string', default: String(DEFAULT_IMPORT_CONCURRENCY) },
      json: { type: 'boolean', default: false },
    },
  });
  const path = positionals[0];
  const concurrency = Number(values.concurrency);
  if (!path || positionals.length > 1 || !values.seller || !Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(USAGE);
  const totalBytes = path === '-' ? undefined : statSync(path).size; // fails early on a missing file

  const config = loadConfig();
  const store = await openEventStore(config, EVENT_SCHEMAS);
  const events = store.events;
  let report: WriteStream | undefined;
  try {
    const seller = await resolveSeller(events, values.seller);
    const rssAtOpenBytes = process.memoryUsage.rss(); // the embedded store holds its log in memory: the baseline
    if (values.report) {
      report = createWriteStream(values.report);
      report.write('line,sku,code,column,message\n');
    }
    let printed = 0;
    const onRejected = (r: ImportRejection) => {
      if (report) report.write(`${[r.line, r.sku, r.code, r.column, r.message].map(csvField).join(',')}\n`);
      else if (printed++ < PRINTED_REJECTIONS) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}line ${r.line}${r.sku ? ` (${r.sku})` : ''}: ${r.column ? `${r.column}: ` : ''}${r.message}\n`);
    };

    const input = { bytes: 0 };
    const source = counted(path === '-' ? (process.stdin as AsyncIterable<Buffer>) : createReadStream(path, { highWaterMark: 256 * 1024 }), input);
    const began = performance.now();
    const cpuBefore = process.cpuUsage();
    let latest: Readonly<ImportCounts> = { rows: 0, created: 0, unchanged: 0, rejected: 0 };
    const tty = process.stderr.isTTY;
    const render = () => {
      const seconds = (performance.now() - began) / 1000;
      const rate = latest.rows / Math.max(seconds, 1e-3);
      const fraction = totalBytes ? input.bytes / totalBytes : undefined;
      const eta = fraction && fraction > 0 ? (seconds / fraction) * (1 - fraction) : Number.NaN;
      const counts = `${latest.rows} rows: ${latest.created} created, ${latest.unchanged} unchanged, ${latest.rejected} rejected`;
      const line = `${fraction === undefined ? '' : `${bar(fraction)} `}${counts}, ${Math.round(rate)} rows/s${fraction === undefined ? '' : `, ETA ${duration(eta)}`}`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `import: ${line}\n`);
    };
    // A bar redrawn ten times a second on a terminal; a plain line every 5 s otherwise (logs, CI).
    const timer = setInterval(render, tty ? 100 : 5000);
    let counts: ImportCounts;
    try {
      counts = await importProducts(events, source, { seller, clock: () => new Date(), correlationId: randomUUID(), concurrency, onRejected, onProgress: (c) => (latest = c) });
    } finally {
      clearInterval(timer);
    }
    latest = counts;
    render();
    if (tty) process.stderr.write('\n');
    const seconds = (performance.now() - began) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    if (!report && counts.rejected > PRINTED_REJECTIONS) process.stderr.write(`... and ${counts.rejected - PRINTED_REJECTIONS} more rejected rows (--report FILE lists them all)\n`);
    const summary = { ...counts, seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(counts.rows / Math.max(seconds, 1e-3)), cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)), rssAtOpenBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024, seller: seller.userId, eventStore: store.description };
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `import: ${counts.rows} rows in ${seconds.toFixed(1)} s (${summary.rowsPerSecond} rows/s): ${counts.created} created, ${counts.unchanged} unchanged (already there), ${counts.rejected} rejected${counts.rejected > 0 && values.report ? ` (listed in ${values.report})` : ''}; products owned by ${seller.userId}\n`,
      );
    }
    return counts.rejected > 0 ? 3 : 0;
  } finally {
    if (report) await new Promise<void>((resolve, reject) => report!.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await events.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`import: ${error.message}`);
      process.exit(2);
    }
    const known = error instanceof DomainError || error instanceof ConfigError || error instanceof InfrastructureError || (error instanceof Error && 'code' in error && error.code === 'ENOENT');
    console.error(`\nimport: ${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
