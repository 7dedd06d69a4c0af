import { describe, expect, it } from 'vitest';
import { parseRoute } from './router.js';

describe('parseRoute', () => {
  it('reads the token of an e-mail’s unsubscribe link from the hash’s query', () => {
    expect(parseRoute('#/unsubscribe?token=eyJ1IjoiYSJ9.c2ln-_')).toEqual({ page: 'unsubscribe', token: 'eyJ1IjoiYSJ9.c2ln-_' });
    expect(parseRoute('#/unsubscribe?token=a%2Eb')).toEqual({ page: 'unsubscribe', token: 'a.b' });
    expect(parseRoute('#/unsubscribe')).toEqual({ page: 'unsubscribe', token: '' });
  });

  it('still reads the other routes, with or without a query', () => {
    expect(parseRoute('#/product/p1')).toEqual({ page: 'product', id: 'p1' });
    expect(parseRoute('#/orders?x=1')).toEqual({ page: 'orders' });
    expect(parseRoute('')).toEqual({ page: 'catalog' });
    expect(parseRoute('#/unsubscribe/extra')).toEqual({ page: 'not-found' });
  });
});
