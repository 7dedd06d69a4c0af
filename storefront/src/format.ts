export interface Money {
  amount: number;
  currency: string;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string): Intl.NumberFormat {
  let f = formatters.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(typeof navigator === 'undefined' ? 'en' : navigator.language, { style: 'currency', currency });
    formatters.set(currency, f);
  }
  return f;
}

/** How many minor units a currency has (2 for EUR, 0 for JPY). */
export function currencyDigits(currency: string): number {
  return formatter(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** A price from integer minor units and its currency, formatted for the browser's locale. */
export function formatMoney(money: Money): string {
  return formatter(money.currency).format(money.amount / 10 ** currencyDigits(money.currency));
}

/** Parses "12.50" into minor units of `currency` (undefined when it is not a valid amount). */
export function toMinorUnits(text: string, currency: string): number | undefined {
  const digits = currencyDigits(currency);
  const match = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!match || (match[2] ?? '').length > digits) return undefined;
  return Number(match[1]) * 10 ** digits + Number((match[2] ?? '').padEnd(digits, '0') || '0');
}

/** Minor units as an editable decimal ("12.50"). */
export function fromMinorUnits(amount: number, currency: string): string {
  const digits = currencyDigits(currency);
  return digits === 0 ? String(amount) : (amount / 10 ** digits).toFixed(digits);
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** The stock badge's text: "Sold out", "3 left" (five or fewer), "12 in stock". */
export function stockText(stock: number): string {
  if (stock <= 0) return 'Sold out';
  return stock <= 5 ? `${stock} left` : `${stock} in stock`;
}

export function newKey(): string {
  return crypto.randomUUID();
}
