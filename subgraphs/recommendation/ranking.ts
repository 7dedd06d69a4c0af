import { isAvailable, type ProductFacts } from './decider.js';
import type { CoPurchaseDoc, TrendingDoc, UserHistoryDoc } from './read-model/read-model.js';

/**
 * Ranking, as pure functions over read-model documents (the queries fetch, these decide).
 *
 * Bought together uses the cosine similarity of purchase sets (Ochiai coefficient):
 *   cos(a, b) = n(a and b) / sqrt(n(a) * n(b))
 * where n counts paid orders. Dividing by the popularity of b keeps a product that is in every
 * basket from drowning real affinity; unlike lift (n(ab) N / n(a) n(b)) it does not explode for
 * products bought once (one shared order between two rarities is not strong evidence), and unlike
 * Jaccard it is a plain geometric mean normalisation whose values stay comparable across seeds
 * when a user's several purchases are summed. Ties: more shared orders first, then product id.
 */
export function cosine(together: number, ordersA: number, ordersB: number): number {
  if (together <= 0 || ordersA <= 0 || ordersB <= 0) return 0;
  return together / Math.sqrt(ordersA * ordersB);
}

/** How many co-purchased candidates (by shared orders) are scored per seed product. */
export const MAX_CANDIDATES = 200;

export interface Scored {
  id: string;
  score: number;
  together: number;
}

const byScore = (a: Scored, b: Scored) => b.score - a.score || b.together - a.together || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The candidates of a seed's co-purchase document worth scoring: the most often bought with it. */
export function candidatesOf(doc: CoPurchaseDoc | undefined, limit = MAX_CANDIDATES): string[] {
  if (!doc) return [];
  return Object.entries(doc.with)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([id]) => id);
}

export interface RankingInput {
  /** Co-purchase documents of the seeds and of their candidates, by product id. */
  coPurchases: ReadonlyMap<string, CoPurchaseDoc>;
  /** Facts of every candidate, by product id (a product without facts is never recommended). */
  facts: ReadonlyMap<string, ProductFacts>;
  /** Trending products to fill up with, best first (already in the right category). */
  trending: readonly string[];
}

/** Appends trending products (best first) that pass `allowed` until `first` are chosen. */
function fillUp(chosen: string[], trending: readonly string[], first: number, allowed: (id: string) => boolean): string[] {
  const seen = new Set(chosen);
  for (const id of trending) {
    if (chosen.length >= first) break;
    if (seen.has(id) || !allowed(id)) continue;
    seen.add(id);
    chosen.push(id);
  }
  return chosen;
}

/**
 * `Product.recommendations`: the products most often bought together with `productId` (cosine),
 * never itself, never a discontinued or sold-out product; filled up from trending in the same
 * category when purchase data gives fewer than `first`.
 */
export function rankBoughtTogether(productId: string, first: number, input: RankingInput): string[] {
  const seed = input.coPurchases.get(productId);
  const allowed = (id: string) => id !== productId && isAvailable(input.facts.get(id));
  const scored: Scored[] = [];
  for (const id of candidatesOf(seed)) {
    if (!allowed(id)) continue;
    const together = seed!.with[id]!;
    scored.push({ id, together, score: cosine(together, seed!.orders, input.coPurchases.get(id)?.orders ?? 0) });
  }
  const chosen = scored.sort(byScore).slice(0, first).map((s) => s.id);
  return fillUp(chosen, input.trending, first, allowed);
}

/** How much a viewed product weighs as a seed, against 1 for a bought one. */
export const VIEW_SEED_WEIGHT = 0.5;
/** How many of a user's most bought and most recently viewed products seed their recommendations. */
export const MAX_BOUGHT_SEEDS = 50;
export const MAX_VIEWED_SEEDS = 20;

/** A user's seeds: bought products (weight 1, most bought first) and viewed ones not bought (weight 0.5, most recent first). */
export function seedsOf(history: UserHistoryDoc | undefined): { id: string; weight: number }[] {
  if (!history) return [];
  const bought = Object.entries(history.bought)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_BOUGHT_SEEDS)
    .map(([id]) => ({ id, weight: 1 }));
  const boughtIds = new Set(Object.keys(history.bought).filter((id) => history.bought[id]! > 0));
  const viewed = history.viewed
    .filter((v) => !boughtIds.has(v.productId))
    .slice(0, MAX_VIEWED_SEEDS)
    .map((v) => ({ id: v.productId, weight: VIEW_SEED_WEIGHT }));
  return [...bought, ...viewed];
}

/**
 * `User.recommendations`: for every candidate, the sum over the user's seeds of
 * seed weight * cos(seed, candidate); never a product the user bought (still counted), never an
 * unavailable one; filled up from trending (for a new user: trending alone).
 */
export function rankForUser(history: UserHistoryDoc | undefined, first: number, input: RankingInput): string[] {
  const bought = new Set(Object.entries(history?.bought ?? {}).filter(([, n]) => n > 0).map(([id]) => id));
  const allowed = (id: string) => !bought.has(id) && isAvailable(input.facts.get(id));
  const totals = new Map<string, Scored>();
  for (const seed of seedsOf(history)) {
    const doc = input.coPurchases.get(seed.id);
    for (const id of candidatesOf(doc)) {
      if (!allowed(id)) continue;
      const together = doc!.with[id]!;
      const entry = totals.get(id) ?? { id, score: 0, together: 0 };
      entry.score += seed.weight * cosine(together, doc!.orders, input.coPurchases.get(id)?.orders ?? 0);
      entry.together += together;
      totals.set(id, entry);
    }
  }
  const chosen = [...totals.values()].sort(byScore).slice(0, first).map((s) => s.id);
  return fillUp(chosen, input.trending, first, allowed);
}

// ---------------------------------------------------------------------------- time decay

/** The instant decayed scores are expressed against (any fixed instant would do; it never changes). */
export const DECAY_EPOCH_MS = Date.UTC(2026, 0, 1);
export const DEFAULT_HALF_LIFE_HOURS = 24;
/** Interaction weights in the trending score. */
export const VIEW_WEIGHT = 1;
export const PURCHASE_WEIGHT = 3;

/** log2 of one interaction's weight, expressed at the epoch: log2(w) + (t - epoch) / halfLife. */
export function logContribution(weight: number, at: string, halfLifeHours: number): number {
  return Math.log2(weight) + (Date.parse(at) - DECAY_EPOCH_MS) / (halfLifeHours * 3_600_000);
}

/** log2(2^a + 2^b), without overflow. */
export function logAdd(a: number | null, b: number): number {
  if (a === null) return b;
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  return hi + Math.log2(1 + 2 ** (lo - hi));
}

/** log2(2^a - 2^b); null when nothing (or, by rounding, less) is left. */
export function logSubtract(a: number | null, b: number): number | null {
  if (a === null || b >= a - 1e-9) return null;
  return a + Math.log2(1 - 2 ** (b - a));
}

/** The decayed score (weighted interactions as of `now`) of a stored log score. */
export function decayedScore(logScore: number | null, now: Date, halfLifeHours: number): number {
  if (logScore === null) return 0;
  return 2 ** (logScore - (now.getTime() - DECAY_EPOCH_MS) / (halfLifeHours * 3_600_000));
}

/** Trending order: higher score first, then product id (what the trending query's sort does). */
export function rankTrending(docs: readonly TrendingDoc[], first: number, facts: ReadonlyMap<string, ProductFacts>, exclude: ReadonlySet<string> = new Set()): string[] {
  return docs
    .filter((d) => d.score !== null && !exclude.has(d._id) && isAvailable(facts.get(d._id)))
    .sort((a, b) => b.score! - a.score! || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0))
    .slice(0, first)
    .map((d) => d._id);
}
