import { describe, expect, it } from 'vitest';
import type { ProductFacts } from './decider.js';
import { cosine, decayedScore, logAdd, logContribution, logSubtract, PURCHASE_WEIGHT, rankBoughtTogether, rankForUser, rankTrending, VIEW_WEIGHT, type RankingInput } from './ranking.js';
import type { CoPurchaseDoc, TrendingDoc, UserHistoryDoc } from './read-model/read-model.js';

/**
 * A hand-computed data set. Paid orders (distinct products each):
 *   o1, o2 {A, B}   o3 {A, C}   o4, o5 {A, P}   o6, o7 {A, E}   o8 {A, S}   o9 … o16 {P, D}
 * so n(A) = 8, n(B) = 2, n(C) = 1, n(P) = 10, n(E) = 2, n(S) = 1, n(D) = 8, and
 *   cos(A, B) = 2 / sqrt(8 * 2)  = 0.5
 *   cos(A, E) = 2 / sqrt(8 * 2)  = 0.5      (E is discontinued)
 *   cos(A, C) = 1 / sqrt(8 * 1)  = 0.3536
 *   cos(A, S) = 1 / sqrt(8 * 1)  = 0.3536   (S is sold out)
 *   cos(A, P) = 2 / sqrt(8 * 10) = 0.2236   (P is in most baskets: as often with A as B is, but ranks below C)
 *   cos(D, P) = 8 / sqrt(8 * 10) = 0.8944
 */
const orders: string[][] = [['A', 'B'], ['A', 'B'], ['A', 'C'], ['A', 'P'], ['A', 'P'], ['A', 'E'], ['A', 'E'], ['A', 'S'], ...Array.from({ length: 8 }, () => ['P', 'D'])];

function coPurchases(baskets: string[][]): Map<string, CoPurchaseDoc> {
  const docs = new Map<string, CoPurchaseDoc>();
  for (const basket of baskets) {
    for (const id of basket) {
      const doc = docs.get(id) ?? { _id: id, orders: 0, with: {} };
      doc.orders++;
      for (const other of basket) if (other !== id) doc.with[other] = (doc.with[other] ?? 0) + 1;
      docs.set(id, doc);
    }
  }
  return docs;
}

const active = (category = 'home'): ProductFacts => ({ category, status: 'ACTIVE', inStock: true });
const facts = new Map<string, ProductFacts>([
  ['A', active()],
  ['B', active()],
  ['C', active()],
  ['D', active()],
  ['P', active()],
  ['E', { category: 'home', status: 'DISCONTINUED', inStock: false }],
  ['S', { category: 'home', status: 'ACTIVE', inStock: false }],
  ['T1', active()],
  ['T2', active()],
  ['T3', active()],
  ['X', active()],
]);
const input = (overrides: Partial<RankingInput> = {}): RankingInput => ({ coPurchases: coPurchases(orders), facts, trending: ['P', 'T1', 'A', 'E', 'T2', 'T3'], ...overrides });

describe('cosine', () => {
  it('is n(ab) / sqrt(n(a) n(b)), 0 without data', () => {
    expect(cosine(2, 8, 2)).toBe(0.5);
    expect(cosine(2, 8, 10)).toBeCloseTo(0.2236, 4);
    expect(cosine(0, 8, 10)).toBe(0);
    expect(cosine(1, 0, 10)).toBe(0);
  });
});

describe('Product.recommendations ranking', () => {
  it('orders bought-together products by cosine: B, C, then the popular P; never itself, never discontinued (E) or sold out (S)', () => {
    expect(rankBoughtTogether('A', 3, input())).toEqual(['B', 'C', 'P']);
    expect(rankBoughtTogether('A', 2, input())).toEqual(['B', 'C']);
  });

  it('fills up from trending in the category when purchase data gives too few, skipping itself, what it already has and unavailable products', () => {
    // trending: P (already chosen), T1, A (itself), E (discontinued), T2, T3
    expect(rankBoughtTogether('A', 5, input())).toEqual(['B', 'C', 'P', 'T1', 'T2']);
  });

  it('a product nobody bought gets trending alone', () => {
    expect(rankBoughtTogether('X', 3, input())).toEqual(['P', 'T1', 'A']);
  });

  it('breaks ties by shared orders, then by product id', () => {
    const everythingAvailable = new Map([...facts, ['E', active()], ['S', active()]]);
    // B and E: 0.5 with 2 shared orders each; C and S: 0.3536 with 1 each.
    expect(rankBoughtTogether('A', 5, input({ facts: everythingAvailable }))).toEqual(['B', 'E', 'C', 'S', 'P']);
  });

  it('a product without known facts is never recommended', () => {
    const withoutC = new Map(facts);
    withoutC.delete('C');
    expect(rankBoughtTogether('A', 3, input({ facts: withoutC }))).toEqual(['B', 'P', 'T1']);
  });
});

describe('User.recommendations ranking', () => {
  const history = (bought: Record<string, number>, viewed: string[] = []): UserHistoryDoc => ({ _id: 'u', bought, viewed: viewed.map((productId) => ({ productId, at: '2026-11-30T10:00:00.000Z' })) });

  it('sums the cosine over what the user bought: P = cos(A, P) + cos(D, P) = 1.118, B = 0.5, C = 0.3536; never what they bought', () => {
    expect(rankForUser(history({ A: 1, D: 1 }), 3, input())).toEqual(['P', 'B', 'C']);
  });

  it('fills up from trending without what they bought or unavailable products', () => {
    // trending: P (chosen), T1, A (bought), E (discontinued), T2, T3
    expect(rankForUser(history({ A: 1, D: 1 }), 6, input())).toEqual(['P', 'B', 'C', 'T1', 'T2', 'T3']);
  });

  it('counts views at half weight, and may recommend a product viewed but not bought', () => {
    // Viewed D only: P = 0.5 * 0.8944; D itself is not bought, so trending may bring it… it is not trending here.
    expect(rankForUser(history({}, ['D']), 2, input())).toEqual(['P', 'T1']);
    // Bought A, viewed C: C (0.3536 from A) stays a candidate; A (from C's orders) is bought.
    expect(rankForUser(history({ A: 1 }, ['C']), 3, input())).toEqual(['B', 'C', 'P']);
  });

  it('a new user gets trending', () => {
    expect(rankForUser(undefined, 3, input())).toEqual(['P', 'T1', 'A']);
  });
});

describe('trending with time decay', () => {
  const halfLife = 24;
  const now = new Date('2026-11-30T12:00:00.000Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
  const score = (...contributions: [number, string][]) => contributions.reduce<number | null>((log, [w, at]) => logAdd(log, logContribution(w, at, halfLife)), null);

  it('halves an interaction every half-life', () => {
    // X: one view now = 1. Y: three views two days ago = 3 / 4 = 0.75. Z: one purchase (weight 3) a day ago = 1.5.
    const x = score([VIEW_WEIGHT, hoursAgo(0)]);
    const y = score([VIEW_WEIGHT, hoursAgo(48)], [VIEW_WEIGHT, hoursAgo(48)], [VIEW_WEIGHT, hoursAgo(48)]);
    const z = score([PURCHASE_WEIGHT, hoursAgo(24)]);
    expect(decayedScore(x, now, halfLife)).toBeCloseTo(1, 9);
    expect(decayedScore(y, now, halfLife)).toBeCloseTo(0.75, 9);
    expect(decayedScore(z, now, halfLife)).toBeCloseTo(1.5, 9);
    const docs: TrendingDoc[] = [
      { _id: 'X', category: 'home', available: true, score: x },
      { _id: 'Y', category: 'home', available: true, score: y },
      { _id: 'Z', category: 'home', available: true, score: z },
      { _id: 'W', category: 'home', available: true, score: null },
    ];
    const all = new Map(['X', 'Y', 'Z', 'W'].map((id) => [id, active()]));
    expect(rankTrending(docs, 10, all)).toEqual(['Z', 'X', 'Y']); // W has no interactions
  });

  it('a withdrawn purchase takes its weight back; equal scores are ordered by id', () => {
    const viewOnly = score([VIEW_WEIGHT, hoursAgo(1)]);
    const withdrawn = logSubtract(score([VIEW_WEIGHT, hoursAgo(1)], [PURCHASE_WEIGHT, hoursAgo(2)]), logContribution(PURCHASE_WEIGHT, hoursAgo(2), halfLife));
    expect(withdrawn).toBeCloseTo(viewOnly!, 9);
    expect(logSubtract(score([PURCHASE_WEIGHT, hoursAgo(2)]), logContribution(PURCHASE_WEIGHT, hoursAgo(2), halfLife))).toBeNull();
    const docs: TrendingDoc[] = [
      { _id: 'b', category: 'c', available: true, score: 5 },
      { _id: 'a', category: 'c', available: true, score: 5 },
    ];
    expect(rankTrending(docs, 2, new Map([['a', active()], ['b', active()]]))).toEqual(['a', 'b']);
  });

  it('a shorter half-life lets recent interactions overtake older, more numerous ones sooner', () => {
    const oneRecent = (h: number) => decayedScore(logAdd(null, logContribution(1, hoursAgo(0), h)), now, h);
    const fourOld = (h: number) => decayedScore(logAdd(null, logContribution(4, hoursAgo(36), h)), now, h);
    expect(fourOld(24)).toBeGreaterThan(oneRecent(24)); // 4 / 2^1.5 = 1.41 > 1
    expect(fourOld(12)).toBeLessThan(oneRecent(12)); // 4 / 2^3 = 0.5 < 1
  });
});
