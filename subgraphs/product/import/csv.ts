/**
 * A streaming CSV reader (RFC 4180 plus what spreadsheets write): fields separated by commas,
 * records by LF, CRLF or a lone CR; a field in double quotes may hold commas, line breaks and
 * quotes written twice (`""`); a UTF-8 byte-order mark at the start is dropped. It reads chunk by
 * chunk and holds one record at a time, so a file of any size streams in constant memory, and
 * pulling the next record is what pulls the next chunk (backpressure).
 *
 * A malformed record (a quote inside an unquoted field, text after a closing quote, a quote left
 * open at the end) is still delivered, with `error` set, so the caller can report its line and
 * go on with the next one. A record longer than `maxRecordChars` (an unclosed quote swallowing
 * the rest of the file, usually) ends the reading with CsvError: nothing after it can be trusted.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts (a quoted line break makes a record span lines). */
  line: number;
  fields: string[];
  /** Why the record is malformed; its fields are then a best effort. */
  error?: string;
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

export const MAX_RECORD_CHARS = 64 * 1024;

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const BOM = '\ufeff';

/** Where the reader is within a record. */
type State = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteInQuoted';

/**
 * Records of CSV text arriving in chunks (strings, or bytes decoded as UTF-8 across chunk
 * boundaries). Lines holding nothing at all are skipped.
 */
export async function* readCsv(chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>, options: { maxRecordChars?: number } = {}): AsyncGenerator<CsvRecord> {
  const maxRecordChars = options.maxRecordChars ?? MAX_RECORD_CHARS;
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let state: State = 'fieldStart';
  let fields: string[] = [];
  let field = '';
  let error: string | undefined;
  let line = 1; // the line the next character is on
  let recordLine = 1;
  let afterCR = false; // the previous character was a CR (so an LF now ends nothing new)
  let first = true;
  const out: CsvRecord[] = [];

  const endRecord = () => {
    fields.push(field);
    const blank = fields.length === 1 && fields[0] === '' && error === undefined;
    if (!blank) out.push(error === undefined ? { line: recordLine, fields } : { line: recordLine, fields, error });
    fields = [];
    field = '';
    error = undefined;
  };
  const fail = (message: string) => {
    error ??= message;
  };

  const consume = (text: string) => {
    let start = 0; // start of the run of plain characters not yet added to `field`
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (afterCR && c === LF) {
        // The LF of a CRLF: the line (and, outside quotes, the record) already ended at the CR.
        afterCR = false;
        if (state === 'quoted') continue; // kept as part of the field with the run
        start = i + 1;
        continue;
      }
      afterCR = false;
      if (state === 'fieldStart') {
        if (c === QUOTE) {
          state = 'quoted';
          start = i + 1;
          continue;
        }
        state = 'unquoted'; // and the character is read as the field's first
        start = i;
      }
      switch (state) {
        case 'unquoted':
          if (c === COMMA) {
            field += text.slice(start, i);
            fields.push(field);
            field = '';
            state = 'fieldStart';
            start = i + 1;
          } else if (c === LF || c === CR) {
            field += text.slice(start, i);
            state = 'fieldStart';
            endRecord();
            line++;
            afterCR = c === CR;
            recordLine = line;
            start = i + 1;
          } else if (c === QUOTE) {
            fail('a quote inside a field that does not start with one (write the field in quotes and double its quotes)');
          }
          break;
        case 'quoted':
          if (c === QUOTE) {
            field += text.slice(start, i);
            state = 'quoteInQuoted';
            start = i + 1;
          } else if (c === LF) {
            line++;
          } else if (c === CR) {
            line++;
            afterCR = true;
          }
          break;
        case 'quoteInQuoted':
          if (c === QUOTE) {
            field += '"'; // an escaped quote
            state = 'quoted';
            start = i + 1;
          } else if (c === COMMA) {
            fields.push(field);
            field = '';
            state = 'fieldStart';
            start = i + 1;
          } else if (c === LF || c === CR) {
            state = 'fieldStart';
            endRecord();
            line++;
            afterCR = c === CR;
            recordLine = line;
            start = i + 1;
          } else {
            fail('text after the closing quote of a field');
            state = 'unquoted';
            start = i;
          }
          break;
      }
    }
    if (state === 'unquoted' || state === 'quoted') field += text.slice(start);
    // The record still open holds at most maxRecordChars (checked once per chunk).
    if (field.length + fields.reduce((n, f) => n + f.length, 0) > maxRecordChars) {
      throw new CsvError(recordLine, `record longer than ${maxRecordChars} characters (a quote left open?); nothing after it was read`);
    }
  };

  /** The end of the text: the last record may have no line break after it. */
  const finish = () => {
    if (state === 'quoted') {
      fail('a quoted field is not closed before the end of the file');
      state = 'fieldStart';
      endRecord();
    } else if (state !== 'fieldStart' || fields.length > 0) {
      state = 'fieldStart';
      endRecord();
    }
  };

  for await (const chunk of chunks) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && text.length > 0) {
      if (text.startsWith(BOM)) text = text.slice(1);
      first = false;
    }
    consume(text);
    for (const record of out) yield record;
    out.length = 0;
  }
  const rest = decoder.decode();
  if (rest) consume(rest);
  finish();
  for (const record of out) yield record;
}
