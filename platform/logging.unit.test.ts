import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultLogFormat } from './logging.js';

const collector = () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream: stream as unknown as NodeJS.WritableStream & { write(s: string): boolean } };
};

describe('log format', () => {
  it('is pretty on a terminal in development, JSON in production and whenever output is piped', () => {
    expect(defaultLogFormat(false, true)).toBe('pretty');
    expect(defaultLogFormat(false, false)).toBe('json');
    expect(defaultLogFormat(false, undefined)).toBe('json');
    expect(defaultLogFormat(true, true)).toBe('json');
  });

  it('pretty: one readable line with the time, level, service and message, then the other fields', () => {
    const { lines, stream } = collector();
    createLogger('gateway', 'info', stream, 'pretty').child({ correlationId: 'abc' }).info({ url: 'http://127.0.0.1:4000/graphql' }, 'gateway listening');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: gateway: gateway listening \{.*"correlationId":"abc".*"url":"http:\/\/127\.0\.0\.1:4000\/graphql".*\}$/);
  });

  it('json: one object per line', () => {
    const { lines, stream } = collector();
    createLogger('product', 'info', stream).warn({ n: 1 }, 'low stock');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, service: 'product', n: 1, msg: 'low stock' });
  });
});

describe('correlation in log lines', () => {
  it('a line logged while a request is handled names its correlation id; others do not', async () => {
    const { withCorrelation } = await import('./correlation.js');
    const { lines, stream } = collector();
    const logger = createLogger('order', 'info', stream);
    withCorrelation('4bf92f3577b34da6a3ce929d0e0e4736', () => logger.child({ orderId: 'o1' }).info('order placed'));
    logger.info('idle');
    expect(JSON.parse(lines[0]!)).toMatchObject({ correlationId: '4bf92f3577b34da6a3ce929d0e0e4736', orderId: 'o1', msg: 'order placed' });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('correlationId');
  });
});
