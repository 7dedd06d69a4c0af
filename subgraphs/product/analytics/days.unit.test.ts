import { describe, expect, it } from 'vitest';
import { dayRange, localDate, slotOf } from './days.js';

describe('analytics days', () => {
  it('puts an instant in its 15-minute UTC slot', () => {
    expect(new Date(slotOf('2026-03-01T10:14:59.999Z')).toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(new Date(slotOf('2026-03-01T10:15:00.000Z')).toISOString()).toBe('2026-03-01T10:15:00.000Z');
  });

  it('dates a slot in the seller time zone, including a +5:45 zone and across a DST change', () => {
    // 18:15Z is 00:00 the next day in Kathmandu (+5:45); 18:00Z is still the day before.
    expect(localDate(Date.parse('2026-03-01T18:15:00Z'), 'Asia/Kathmandu')).toBe('2026-03-02');
    expect(localDate(Date.parse('2026-03-01T18:00:00Z'), 'Asia/Kathmandu')).toBe('2026-03-01');
    // Paris: +1 in winter, +2 after 2026-03-29.
    expect(localDate(Date.parse('2026-03-28T23:00:00Z'), 'Europe/Paris')).toBe('2026-03-29');
    expect(localDate(Date.parse('2026-03-29T21:45:00Z'), 'Europe/Paris')).toBe('2026-03-29');
    expect(localDate(Date.parse('2026-03-29T22:00:00Z'), 'Europe/Paris')).toBe('2026-03-30');
    expect(localDate(Date.parse('2026-03-01T23:59:00Z'), 'UTC')).toBe('2026-03-01');
  });

  it('lists the dates of a range, both ends included', () => {
    expect(dayRange('2026-02-27', '2026-03-02').dates).toEqual(['2026-02-27', '2026-02-28', '2026-03-01', '2026-03-02']);
    expect(dayRange('2025-01-01', '2025-12-31').dates).toHaveLength(365);
    expect(dayRange('2024-01-01', '2024-12-31').dates).toHaveLength(366);
  });

  it.each([
    ['a malformed date', '2026-3-1', '2026-03-02', ['from']],
    ['an impossible date', '2026-02-27', '2026-02-30', ['to']],
    ['from after to', '2026-03-02', '2026-03-01', ['from']],
    ['more than 366 days', '2025-01-01', '2026-01-02', ['to']],
  ])('refuses %s', (_, from, to, field) => {
    expect(() => dayRange(from, to)).toThrowError(expect.objectContaining({ code: 'INVALID_INPUT', field }) as Error);
  });
});
