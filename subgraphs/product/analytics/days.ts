import { ValidationError } from '../../../platform/errors.js';

/**
 * Days in a seller's time zone over UTC slots. Analytics are stored in 15-minute UTC slots (every
 * time zone in use today is offset from UTC by a multiple of 15 minutes, Asia/Kathmandu's +5:45
 * included), so a slot never straddles a local midnight and a seller's days are summed from slots
 * at query time: changing one's time zone needs no rebuild.
 */
export const SLOT_MS = 15 * 60 * 1000;

/** Longest range a query may ask for, in days (a leap year). */
export const MAX_RANGE_DAYS = 366;

const DAY_MS = 24 * 60 * 60 * 1000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC slot (start, in epoch milliseconds) an instant falls in. */
export function slotOf(instant: string): number {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${instant}`);
  return Math.floor(ms / SLOT_MS) * SLOT_MS;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(epochMs: number, timeZone: string): string {
  let format = formatters.get(timeZone);
  if (!format) {
    // en-CA writes dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, format);
  }
  return format.format(epochMs);
}

function parseDate(value: string, field: string): number {
  const match = DATE.exec(value);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  // Date.UTC rolls 2026-02-30 over to March: a real date formats back to itself.
  if (!match || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) throw new ValidationError(`${field} must be a date written YYYY-MM-DD`, [field]);
  return ms;
}

export interface DayRange {
  /** Every date of the range, in order. */
  dates: string[];
  /**
   * UTC instants that surely cover the range's local days (a day more on each side: no offset is
   * larger); slots outside the range's dates are dropped by their local date.
   */
  fromMs: number;
  toMs: number;
}

/**
 * `from` and `to`: dates (YYYY-MM-DD), both included, as days in the seller's time zone.
 * INVALID_INPUT for a malformed or impossible date, `from` after `to`, or more than
 * MAX_RANGE_DAYS days.
 */
export function dayRange(from: string, to: string): DayRange {
  const start = parseDate(from, 'from');
  const end = parseDate(to, 'to');
  if (start > end) throw new ValidationError('from must not be after to', ['from']);
  const days = (end - start) / DAY_MS + 1;
  if (days > MAX_RANGE_DAYS) throw new ValidationError(`a range may cover at most ${MAX_RANGE_DAYS} days`, ['to']);
  const dates = Array.from({ length: days }, (_, i) => new Date(start + i * DAY_MS).toISOString().slice(0, 10));
  return { dates, fromMs: start - DAY_MS, toMs: end + 2 * DAY_MS };
}
