import { describe, expect, it } from 'vitest';
import { parsePrice, readHeader } from './import.js';

describe('parsePrice', () => {
  it.each([
    ['12.99', 'EUR', 1299],
    ['12.5', 'EUR', 1250],
    ['12', 'EUR', 1200],
    ['0012.90', 'USD', 1290],
    ['1500', 'JPY', 1500],
    ['1.234', 'BHD', 1234],
  ])('%s %s is %i minor units, exactly', (text, currency, amount) => {
    expect(parsePrice(text, currency)).toBe(amount);
  });

  it.each([
    ['12.999', 'EUR', /more decimals than EUR uses \(2\)/],
    ['1.5', 'JPY', /more decimals than JPY uses \(0\)/],
    ['1e3', 'EUR', /not a decimal number/],
    ['-5', 'EUR', /not a decimal number/],
    ['1,299.00', 'EUR', /not a decimal number/],
    ['', 'EUR', /not a decimal number/],
    ['99999999999999999', 'EUR', /too large/],
  ])('refuses %s %s', (text, currency, reason) => {
    expect(() => parsePrice(text, currency)).toThrow(reason);
  });
});

describe('readHeader', () => {
  it('takes the columns in any order and case, description optional', () => {
    expect([...readHeader({ line: 1, fields: [' Stock', 'CURRENCY', 'price', 'category', 'name', 'sku'] })]).toEqual([
      ['stock', 0],
      ['currency', 1],
      ['price', 2],
      ['category', 3],
      ['name', 4],
      ['sku', 5],
    ]);
  });

  it.each([
    [undefined, /the CSV is empty/],
    [{ line: 1, fields: ['sku', 'name', 'category', 'price', 'currency'] }, /line 1: missing column stock/],
    [{ line: 1, fields: ['sku', 'name', 'category', 'price', 'currency', 'stock', 'SKU'] }, /column "sku" appears twice/],
    [{ line: 1, fields: ['sku', 'name', 'category', 'prise', 'currency', 'stock'] }, /unknown column "prise"/],
    [{ line: 1, fields: ['sku'], error: 'a quote inside a field' }, /header row is malformed/],
  ])('refuses a header that is not ours (%#)', (record, reason) => {
    expect(() => readHeader(record)).toThrow(reason);
  });
});
