import { describe, expect, it } from 'vitest';
import { currencyDigits, formatMoney, fromMinorUnits, stockText, toMinorUnits } from './format.js';

describe('storefront formatting', () => {
  it('formats prices from minor units with the currency\'s own number of digits', () => {
    expect(currencyDigits('EUR')).toBe(2);
    expect(currencyDigits('JPY')).toBe(0);
    expect(formatMoney({ amount: 1999, currency: 'USD' })).toMatch(/19\.99/);
    expect(formatMoney({ amount: 1999, currency: 'JPY' })).toMatch(/1,999/);
  });

  it('parses edited prices into minor units and refuses what is not one', () => {
    expect(toMinorUnits('12.5', 'EUR')).toBe(1250);
    expect(toMinorUnits('12,50', 'EUR')).toBe(1250);
    expect(toMinorUnits('7', 'EUR')).toBe(700);
    expect(toMinorUnits('1200', 'JPY')).toBe(1200);
    expect(toMinorUnits('12.345', 'EUR')).toBeUndefined();
    expect(toMinorUnits('12.5', 'JPY')).toBeUndefined();
    expect(toMinorUnits('-3', 'EUR')).toBeUndefined();
    expect(toMinorUnits('abc', 'EUR')).toBeUndefined();
    expect(fromMinorUnits(1250, 'EUR')).toBe('12.50');
    expect(fromMinorUnits(1200, 'JPY')).toBe('1200');
  });

  it('words stock badges', () => {
    expect(stockText(0)).toBe('Sold out');
    expect(stockText(3)).toBe('3 left');
    expect(stockText(12)).toBe('12 in stock');
  });
});
