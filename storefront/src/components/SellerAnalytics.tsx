import { useEffect, useState } from 'preact/hooks';
import { useQuery } from '@urql/preact';
import { MyTimeZoneDocument, SellerAnalyticsDocument } from '../__generated__/graphql.js';
import { formatMoney } from '../format.js';
import { useCatchUp } from '../hooks.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Today's date (YYYY-MM-DD) in a time zone, and the date `days - 1` days before it. */
function lastDays(days: number, timeZone: string): { from: string; to: string } {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const to = format.format(Date.now());
  const from = new Date(Date.parse(`${to}T00:00:00Z`) - (days - 1) * DAY_MS).toISOString().slice(0, 10);
  return { from, to };
}

const percent = new Intl.NumberFormat(typeof navigator === 'undefined' ? 'en' : navigator.language, { style: 'percent', maximumFractionDigits: 1 });

/**
 * The seller's sales over the last 7 or 30 days (in their time zone) and each product's figures.
 * Live: `salesChanged` grows whenever the page hears a SOLD or RELEASED stock change of one of
 * the seller's products (a sale, or a refund); the figures are fetched again shortly after (the
 * analytics read model follows the same events as the stock feed, a few milliseconds later).
 */
export function SellerAnalytics({ salesChanged }: { salesChanged: number }) {
  const [days, setDays] = useState(7);
  const [zone] = useQuery({ query: MyTimeZoneDocument });
  const timeZone = zone.data?.me?.timeZone ?? undefined;
  const range = timeZone ? lastDays(days, timeZone) : { from: '', to: '' };
  const [result, refetch] = useQuery({ query: SellerAnalyticsDocument, variables: { ...range, first: 100 }, pause: !timeZone });
  useCatchUp(refetch);
  useEffect(() => {
    if (salesChanged === 0) return undefined;
    const timers = [300, 2000].map((ms) => setTimeout(() => refetch({ requestPolicy: 'network-only' }), ms));
    return () => timers.forEach(clearTimeout);
  }, [salesChanged]);
  const summary = result.data?.me?.salesSummary;
  const products = result.data?.me?.products.edges.map((e) => e.node) ?? [];
  return (
    <section class="card seller-analytics" aria-labelledby="sales-heading">
      <h2 id="sales-heading">Sales</h2>
      <div class="field">
        <label for="sales-period">Period</label>
        <select id="sales-period" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          <option value="7">Last 7 days</option>
          <option value="30">Last 30 days</option>
        </select>
      </div>
      {result.error && <p role="alert">Sales figures are not available right now.</p>}
      {!summary ? (
        <p>{result.fetching || zone.fetching ? 'Loading…' : ''}</p>
      ) : (
        <>
          <dl class="sales-summary" aria-label={`Sales, ${range.from} to ${range.to}`}>
            <dt>Revenue</dt>
            <dd data-figure="revenue">
              {formatMoney(summary.revenue)}
              {summary.otherRevenue.map((m) => ` + ${formatMoney(m)}`).join('')}
            </dd>
            <dt>Units sold</dt>
            <dd data-figure="units">{summary.unitsSold}</dd>
            <dt>Orders</dt>
            <dd data-figure="orders">{summary.orders}</dd>
          </dl>
          <p class="hint">
            From {range.from} to {range.to}, days in {summary.timeZone}. Paid orders; refunded cancellations are taken off.
          </p>
          {products.length > 0 && (
            <table class="product-analytics">
              <caption>By product</caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Views</th>
                  <th scope="col">Units sold</th>
                  <th scope="col">Revenue</th>
                  <th scope="col">Conversion</th>
                </tr>
              </thead>
              <tbody>
                {products.map((p) => (
                  <tr key={p.id} data-product-id={p.id}>
                    <th scope="row">{p.name}</th>
                    <td>{p.analytics.views}</td>
                    <td>{p.analytics.unitsSold}</td>
                    <td>{formatMoney(p.analytics.revenue)}</td>
                    <td>{p.analytics.conversionRate === null ? '—' : percent.format(p.analytics.conversionRate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
