/**
 * Bulk import of products from CSV: the one core behind `npm run import` (a file streamed from
 * disk) and the `importProducts` mutation (a CSV string). It reads records one at a time
 * (readCsv), checks each row, and creates each good row's product as its own stream, expecting
 * no stream (its id derives from the SKU): a product already there is "unchanged", so running
 * the same file again creates nothing, and two imports racing on one SKU create it once.
 *
 * Appends run `concurrency` at a time, so the event store batches them (the embedded store
 * group-commits whatever is queued with one write and one fdatasync; EventStoreDB pipelines
 * them on one connection). Reading waits while the window is full: memory stays flat.
 *
 * Columns (header row required, any order, case-insensitive): sku, name, description
 * (optional column), category, price, currency, stock.
 *   price  a decimal in the currency's major unit, with at most as many decimals as the
 *          currency has (`12.99` EUR is 1299 cents, `1500` JPY is 1500 yen); no thousands
 *          separators, no sign, no exponent
 *   stock  a whole number of units, 0 or more
 * A row is checked by the same decider as createProduct, so the rules are the same.
 */
import { handleCommand } from '../../../platform/eventsourcing/command-handler.js';
import { AlreadyExistsError, DomainError, ForbiddenError, ValidationError, type ErrorCode } from '../../../platform/errors.js';
import type { EventStore } from '../../../platform/event-store/event-store.js';
import { productDecider, productIdForSku, type Actor, type CreateProduct, type ProductState } from '../decider.js';
import { productStream } from '../events.js';
import { CsvError, readCsv, type CsvRecord } from './csv.js';

export const IMPORT_COLUMNS = ['sku', 'name', 'description', 'category', 'price', 'currency', 'stock'] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];
const OPTIONAL_COLUMNS = new Set<ImportColumn>(['description']);

/**
 * Appends in flight by default: enough for the embedded store's group commit to write big batches
 * (one write and fdatasync each). The port has no multi-stream append, and one append per product
 * keeps "no stream expected" per SKU. Measured 2026-12-01 (20,000 rows, fsync on, a loaded 2-CPU
 * machine): 1 in flight 620 rows/s, 16 2,473, 64 3,494, 256 7,510, 1,024 7,413.
 */
export const DEFAULT_IMPORT_CONCURRENCY = 256;

/** A row that was not imported, and why. */
export interface ImportRejection {
  /** 1-based line where the row starts in the file (line 1 is the header). */
  line: number;
  sku: string | null;
  code: ErrorCode;
  /** The CSV column at fault, when one is. */
  column: ImportColumn | null;
  message: string;
}

export interface ImportCounts {
  /** Data rows read (the header and empty lines not counted). */
  rows: number;
  created: number;
  /** Rows whose SKU this seller already has (an earlier import, or an earlier row of this file). */
  unchanged: number;
  rejected: number;
}

export interface ImportOptions {
  /** Who owns the products created: a SELLER (or ADMIN), as createProduct. */
  seller: Actor;
  clock: () => Date;
  /** Correlation id of every event the import appends (one per import run). */
  correlationId: string;
  /** Appends in flight; DEFAULT_IMPORT_CONCURRENCY. */
  concurrency?: number;
  /** Called for every rejected row as it is rejected (not in line order: rows finish concurrently). */
  onRejected?: (rejection: ImportRejection) => void;
  /** Called with the running counts (the same object) each time a row is settled. */
  onProgress?: (counts: Readonly<ImportCounts>) => void;
}

type ProductInput = Omit<CreateProduct, 'type' | 'productId' | 'by' | 'at'>;

/** The decider's input field → the CSV column it came from. */
const COLUMN_OF_FIELD: Record<string, ImportColumn> = { sku: 'sku', name: 'name', description: 'description', category: 'category', price: 'price', initialStock: 'stock' };

function columnOf(field: readonly string[] | undefined): ImportColumn | null {
  if (!field || field[0] !== 'input' || !field[1]) return null;
  if (field[1] === 'price' && field[2] === 'currency') return 'currency';
  return COLUMN_OF_FIELD[field[1]] ?? null;
}

/** Which column is at which index; throws ValidationError for a header that is not ours. */
export function readHeader(record: CsvRecord | undefined): Map<ImportColumn, number> {
  const expected = `expected a header row: ${IMPORT_COLUMNS.join(',')}`;
  if (!record) throw new ValidationError(`the CSV is empty; ${expected}`, ['csv']);
  if (record.error) throw new ValidationError(`line ${record.line}: the header row is malformed: ${record.error}`, ['csv']);
  const columns = new Map<ImportColumn, number>();
  record.fields.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) throw new ValidationError(`line ${record.line}: unknown column "${raw.trim()}"; ${expected}`, ['csv']);
    if (columns.has(name as ImportColumn)) throw new ValidationError(`line ${record.line}: column "${name}" appears twice`, ['csv']);
    columns.set(name as ImportColumn, index);
  });
  const missing = IMPORT_COLUMNS.filter((c) => !columns.has(c) && !OPTIONAL_COLUMNS.has(c));
  if (missing.length > 0) throw new ValidationError(`line ${record.line}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${expected}`, ['csv']);
  return columns;
}

const minorDigitsCache = new Map<string, number>();

/** Decimals the currency uses (EUR 2, JPY 0, BHD 3), from the runtime's ICU data. */
function minorDigits(currency: string): number {
  let digits = minorDigitsCache.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorDigitsCache.set(currency, digits);
  }
  return digits;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;
const WHOLE = /^\d+$/;

class RowError extends Error {
  constructor(
    readonly column: ImportColumn | null,
    message: string,
  ) {
    super(message);
  }
}

/** Minor units of a decimal price, exactly (no floating point). */
export function parsePrice(text: string, currency: string): number {
  const match = DECIMAL.exec(text);
  if (!match) throw new RowError('price', `price "${text}" is not a decimal number such as 12.99`);
  const digits = minorDigits(currency);
  const fraction = match[2] ?? '';
  if (fraction.length > digits) throw new RowError('price', `price "${text}" has more decimals than ${currency} uses (${digits})`);
  const amount = Number(match[1]! + fraction.padEnd(digits, '0'));
  if (!Number.isSafeInteger(amount)) throw new RowError('price', `price "${text}" is too large`);
  return amount;
}

/** A data row as createProduct's input; throws RowError for what only the CSV form can get wrong. */
function toInput(record: CsvRecord, columns: Map<ImportColumn, number>, width: number): ProductInput {
  if (record.error) throw new RowError(null, `malformed CSV: ${record.error}`);
  if (record.fields.length !== width) throw new RowError(null, `expected ${width} fields, found ${record.fields.length}`);
  const get = (column: ImportColumn) => {
    const index = columns.get(column);
    return index === undefined ? '' : record.fields[index]!.trim();
  };
  const currency = get('currency').toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw new RowError('currency', `currency "${get('currency')}" is not an ISO 4217 code such as EUR`);
  const stock = get('stock');
  if (!WHOLE.test(stock)) throw new RowError('stock', `stock "${stock}" is not a whole number of units`);
  const description = get('description');
  return {
    sku: get('sku'),
    name: get('name'),
    description: description === '' ? null : description,
    category: get('category'),
    price: { amount: parsePrice(get('price'), currency), currency },
    initialStock: Number(stock),
  };
}

/**
 * Creates the product unless its SKU's stream exists: `created`, or `unchanged` when this seller
 * already has it. Another seller's product with that SKU is AlreadyExistsError; a row the
 * decider refuses is its ValidationError.
 */
async function createIfAbsent(events: EventStore, input: ProductInput, seller: Actor, now: Date, correlationId: string): Promise<'created' | 'unchanged'> {
  const productId = productIdForSku(input.sku);
  const found: { state?: ProductState } = {};
  try {
    await handleCommand(
      events,
      productDecider,
      productStream(productId),
      (state): CreateProduct => {
        found.state = state;
        return { type: 'CreateProduct', ...input, productId, by: seller, at: now.toISOString() };
      },
      { actor: seller.userId, correlationId, now },
    );
    return 'created';
  } catch (error) {
    const existing = found.state;
    if (!(error instanceof AlreadyExistsError) || !existing || existing.status === 'none') throw error;
    if (existing.sellerId === seller.userId) return 'unchanged';
    throw new AlreadyExistsError(`SKU ${input.sku.trim().toUpperCase()} belongs to another seller's product`, ['input', 'sku']);
  }
}

/**
 * Imports the CSV arriving as `source` (chunks of text or bytes). Good rows land even when
 * others are rejected; each rejected row goes to `onRejected`. Throws ValidationError when the
 * file as a whole cannot be read (no or a wrong header, a record too long to be real: rows
 * before it have been imported), ForbiddenError when the actor may not sell, and whatever the
 * event store throws (after the appends in flight have settled).
 */
export async function importProducts(events: EventStore, source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>, options: ImportOptions): Promise<ImportCounts> {
  const { seller, clock, correlationId, onRejected, onProgress } = options;
  if (seller.role !== 'SELLER' && seller.role !== 'ADMIN') throw new ForbiddenError('only sellers may import products');
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_IMPORT_CONCURRENCY);
  const counts: ImportCounts = { rows: 0, created: 0, unchanged: 0, rejected: 0 };
  const reject = (rejection: ImportRejection) => {
    counts.rejected++;
    onRejected?.(rejection);
  };

  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failure: { error: unknown } | undefined;
  const settled = () => {
    inFlight--;
    onProgress?.(counts);
    const w = wake;
    wake = undefined;
    w?.();
  };
  const drainTo = async (limit: number) => {
    while (inFlight > limit) await new Promise<void>((resolve) => (wake = resolve));
  };

  let columns: Map<ImportColumn, number> | undefined;
  let width = 0;
  try {
    for await (const record of readCsv(source)) {
      if (!columns) {
        columns = readHeader(record);
        width = record.fields.length;
        continue;
      }
      counts.rows++;
      let input: ProductInput;
      try {
        input = toInput(record, columns, width);
      } catch (error) {
        if (!(error instanceof RowError)) throw error;
        const sku = record.fields[columns.get('sku')!]?.trim();
        reject({ line: record.line, sku: sku || null, code: 'INVALID_INPUT', column: error.column, message: error.message });
        onProgress?.(counts);
        continue;
      }
      await drainTo(concurrency - 1);
      if (failure) break;
      inFlight++;
      const line = record.line;
      createIfAbsent(events, input, seller, clock(), correlationId).then(
        (outcome) => {
          counts[outcome]++;
          settled();
        },
        (error: unknown) => {
          if (error instanceof DomainError && error.code !== 'FORBIDDEN') {
            reject({ line, sku: input.sku || null, code: error.code, column: columnOf(error.field), message: error.message });
          } else {
            failure ??= { error };
          }
          settled();
        },
      );
    }
    if (!columns) readHeader(undefined);
  } catch (error) {
    await drainTo(0);
    if (error instanceof CsvError) throw new ValidationError(`${error.message}${counts.created > 0 ? ` (${counts.created} products from earlier rows were created)` : ''}`, ['csv']);
    throw error;
  }
  await drainTo(0);
  if (failure) throw failure.error;
  return counts;
}

/** Data rows of a CSV (records after the header), for a limit checked before anything is imported. */
export async function countRows(source: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<number> {
  let records = 0;
  try {
    for await (const _ of readCsv(source)) records++;
  } catch (error) {
    if (error instanceof CsvError) throw new ValidationError(error.message, ['csv']);
    throw error;
  }
  return Math.max(0, records - 1);
}
