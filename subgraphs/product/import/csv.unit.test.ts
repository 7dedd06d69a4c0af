import { describe, expect, it } from 'vitest';
import { CsvError, readCsv, type CsvRecord } from './csv.js';

async function read(chunks: (string | Uint8Array)[], options?: { maxRecordChars?: number }): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  for await (const record of readCsv(chunks, options)) records.push(record);
  return records;
}

/** The same text cut into every possible pair of chunks must read the same. */
async function readEverySplit(text: string): Promise<CsvRecord[]> {
  const whole = await read([text]);
  for (let i = 1; i < text.length; i++) expect(await read([text.slice(0, i), text.slice(i)]), `split at ${i}`).toEqual(whole);
  const bytes = new TextEncoder().encode(text);
  for (let i = 1; i < bytes.length; i++) expect(await read([bytes.subarray(0, i), bytes.subarray(i)]), `byte split at ${i}`).toEqual(whole);
  return whole;
}

describe('readCsv', () => {
  it('reads plain records with their line numbers, with or without a final line break', async () => {
    expect(await read(['a,b,c\n1,2,3\n'])).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '2', '3'] },
    ]);
    expect(await read(['a,b\n1,2'])).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });

  it('keeps empty fields, including a trailing one', async () => {
    expect(await read(['a,,c,\n'])).toEqual([{ line: 1, fields: ['a', '', 'c', ''] }]);
  });

  it('reads quoted fields holding commas, escaped quotes and line breaks, and counts lines across them', async () => {
    const records = await readEverySplit('sku,description\nA,"big, ""red""\nmug"\nB,"x"\r\nC,""\n');
    expect(records).toEqual([
      { line: 1, fields: ['sku', 'description'] },
      { line: 2, fields: ['A', 'big, "red"\nmug'] },
      { line: 4, fields: ['B', 'x'] },
      { line: 5, fields: ['C', ''] },
    ]);
  });

  it('reads CRLF and lone CR line ends, also when a chunk ends between CR and LF', async () => {
    expect(await readEverySplit('a,b\r\n1,2\r\n3,4\r5,6\r\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
      { line: 3, fields: ['3', '4'] },
      { line: 4, fields: ['5', '6'] },
    ]);
  });

  it('drops a byte-order mark at the start, as text or as bytes', async () => {
    expect(await read(['\ufeffsku,name\n'])).toEqual([{ line: 1, fields: ['sku', 'name'] }]);
    expect(await read([new Uint8Array([0xef, 0xbb]), new Uint8Array([0xbf, 0x61, 0x2c, 0x62])])).toEqual([{ line: 1, fields: ['a', 'b'] }]);
  });

  it('decodes multi-byte characters split across chunks', async () => {
    expect(await readEverySplit('name\nCafé crème ☕,"naïve, 日本"\n')).toEqual([
      { line: 1, fields: ['name'] },
      { line: 2, fields: ['Café crème ☕', 'naïve, 日本'] },
    ]);
  });

  it('skips empty lines but keeps counting them', async () => {
    expect(await read(['a\n\n\r\nb\n\n'])).toEqual([
      { line: 1, fields: ['a'] },
      { line: 4, fields: ['b'] },
    ]);
  });

  it('delivers malformed records with the reason, and goes on with the next ones', async () => {
    const records = await read(['ok,1\nbad"quote,2\n"closed"junk,3\nfine,4\n"open,5\nrest\n']);
    expect(records.map((r) => [r.line, r.error !== undefined])).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, false],
      [5, true],
    ]);
    expect(records[1]!.error).toMatch(/quote inside a field/);
    expect(records[2]!.error).toMatch(/after the closing quote/);
    expect(records[4]!.error).toMatch(/not closed before the end/);
    expect(records[3]!.fields).toEqual(['fine', '4']);
  });

  it('stops with CsvError at a record longer than the limit, naming its line', async () => {
    const reading = read(['a\n"', 'x'.repeat(50), 'y'.repeat(60), '"\n'], { maxRecordChars: 100 });
    await expect(reading).rejects.toThrow(CsvError);
    await expect(reading).rejects.toThrow(/line 2: record longer than 100 characters/);
  });

  it('pulls chunks only as records are consumed (backpressure)', async () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield `row${i},x\n`;
      }
    }
    const iterator = readCsv(source());
    await iterator.next();
    await iterator.next();
    expect(pulled).toBeLessThanOrEqual(2);
    await iterator.return(undefined);
  });
});
