import { describe, expect, it } from 'vitest';
import { correlationFromHeader, correlationFromTraceparent, correlationIdOrNew, currentCorrelationId, withCorrelation } from './correlation.js';

describe('correlation ids', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

  it("takes the trace id of a valid W3C traceparent, and makes a new one of the same shape otherwise", () => {
    expect(correlationFromTraceparent(`00-${traceId}-00f067aa0ba902b7-01`)).toBe(traceId);
    expect(correlationFromTraceparent(`01-${traceId}-00f067aa0ba902b7-01-future`)).toBe(traceId); // a later version may add fields
    for (const bad of [undefined, '', 'nonsense', `00-${traceId}-00f067aa0ba902b7-01-extra`, `ff-${traceId}-00f067aa0ba902b7-01`, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `00-${traceId}-${'0'.repeat(16)}-01`, `00-${traceId.toUpperCase()}-00f067aa0ba902b7-01`]) {
      const id = correlationFromTraceparent(bad);
      expect(id, String(bad)).toMatch(/^[\da-f]{32}$/);
      expect(id).not.toBe(traceId);
    }
  });

  it('accepts a well-formed id from another of our processes, and replaces anything else', () => {
    expect(correlationFromHeader(traceId)).toBe(traceId);
    expect(correlationFromHeader('0b9c0a5e-3a52-4c3e-9a8e-5b8f1e2d3c4a')).toBe('0b9c0a5e-3a52-4c3e-9a8e-5b8f1e2d3c4a');
    expect(correlationFromHeader('bad id\nwith a line break')).toMatch(/^[\da-f]{32}$/);
    expect(correlationFromHeader('x'.repeat(200))).toMatch(/^[\da-f]{32}$/);
  });

  it('is current for everything the work calls, asynchronously too, and only there', async () => {
    expect(currentCorrelationId()).toBeUndefined();
    const seen = await withCorrelation(traceId, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return [currentCorrelationId(), correlationIdOrNew()];
    });
    expect(seen).toEqual([traceId, traceId]);
    expect(currentCorrelationId()).toBeUndefined();
    expect(correlationIdOrNew()).toMatch(/^[\da-f]{32}$/);
  });
});
