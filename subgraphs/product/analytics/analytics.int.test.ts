import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../platform/auth/tokens.js';
import { closeConsumers } from '../../../platform/bus/bus.js';
import { handleCommand } from '../../../platform/eventsourcing/command-handler.js';
import { eventually } from '../../../platform/testing/eventually.js';
import { readModelDigest } from '../../../platform/testing/read-model-hash.js';
import { startSaga } from '../../order/saga-harness.js';
import { RECOMMENDATION_TOPIC } from '../../recommendation/public-events.js';
import { startRecommendationConsumers } from '../../recommendation/server.js';
import { RecommendationService } from '../../recommendation/service.js';
import { userDecider } from '../../user/decider.js';
import { userStream } from '../../user/events.js';
import { USER_TOPIC } from '../../user/public-events.js';
import type { ProductDoc } from '../catalog/read-model.js';
import { productStream } from '../events.js';
import { startAnalyticsConsumers, TIME_ZONES_GROUP, VIEWS_GROUP } from './consumers.js';
import { productAnalyticsProjection } from './projection.js';
import { expectCollectedHandled, expectRebuildMatches, expectReapplyChangesNothing, redeliverCollected, withSliceSuite } from '../../../platform/testing/slice-suite.js';
import { onEmbeddedAndRealServers, type OpenBus, type OpenDocuments } from '../../../platform/testing/suite-stores.js';

const groupOf = (topic: string) => (topic === USER_TOPIC ? TIME_ZONES_GROUP : VIEWS_GROUP);
const eur = (amount: number) => ({ amount, currency: 'EUR' });

/**
 * Seller analytics between real services: products, orders, payments and a refunded cancellation
 * go through the product and order services and the relay; views through the recommendation
 * service and recommendation.events.v1; time zones through user.events.v1. The figures expected
 * are computed by hand from the script below (see the comments), on the embedded bus and
 * document store, and on Kafka and FerretDB when they are configured.
 */
function analyticsSuite(name: string, openBus: OpenBus, openDocuments: OpenDocuments) {
  describe(`seller analytics (${name})`, () => {
    it('counts a scripted history by day in each seller time zone, authorises, survives redelivery and rebuilds identically', async () => {
      await withSliceSuite('analytics-test', { openBus, openDocuments }, [RECOMMENDATION_TOPIC, USER_TOPIC], async (suite) => {
        const { events, bus, documents, ports, logger, collected } = suite;
        let now = new Date('2026-03-10T17:00:00.000Z');
        const clock = () => now;
        const saga = await startSaga({ bus, events, logger, documents, clock });
        suite.onClose(() => saga.stop());
        const recommendations = new RecommendationService({ ...ports, clock });
        const recommendationConsumers = await startRecommendationConsumers(bus, recommendations, clock);
        suite.onClose(() => closeConsumers(recommendationConsumers));
        const analyticsConsumers = await startAnalyticsConsumers(bus, saga.products.analytics);
        suite.onClose(() => closeConsumers(analyticsConsumers));
        const projector = (await suite.startProjectors([productAnalyticsProjection]))[0]!;
        const analytics = saga.products.analytics;
        const s1: Identity = { userId: randomUUID(), role: 'SELLER' };
        const s2: Identity = { userId: randomUUID(), role: 'SELLER' };
        const customer = (): Identity => ({ userId: randomUUID(), role: 'CUSTOMER' });
        const [c1, c2, c3] = [customer(), customer(), customer()];
        const admin: Identity = { userId: randomUUID(), role: 'ADMIN' };
        const register = (who: Identity) =>
          handleCommand(events, userDecider, userStream(who.userId), { type: 'RegisterUser', userId: who.userId, email: `${who.userId}@example.com`, name: 'Seller', role: 'SELLER', passwordHash: 'x', at: now.toISOString() }, { actor: who.userId, correlationId: randomUUID(), now });
        await register(s1); // UTC until they choose a zone
        await register(s2);

        const create = (seller: Identity, tag: string, amount: number) =>
          saga.products.create({ sku: `AN-${tag}-${randomUUID().slice(0, 8)}`, name: tag, category: 'home', description: null, price: eur(amount), initialStock: 50 }, seller);
        const p1 = await create(s1, 'P1', 1000);
        const p2 = await create(s1, 'P2', 250);
        const p3 = await create(s2, 'P3', 500);

        const at = (iso: string) => (now = new Date(iso));
        /** Places and pays an order at the clock's time; returns once every line is sold (the sale is dated then). */
        const buy = async (customer: Identity, lines: [ProductDoc, number][], pay = true) => {
          const order = await saga.orders.place({ items: lines.map(([p, quantity]) => ({ productId: p._id, quantity })) }, customer);
          await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe('CONFIRMED'), 60_000);
          if (!pay) return order._id;
          expect((await saga.orders.pay(order._id, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
          for (const [p] of lines) await eventually(async () => expect((await events.readStream(productStream(p._id))).some((e) => e.type === 'StockSold' && (e.data as { orderId: string }).orderId === order._id)).toBe(true), 60_000);
          return order._id;
        };
        const view = (customer: Identity, p: ProductDoc) => eventually(() => recommendations.recordView(p._id, customer), 60_000); // once the recommendation service knows the product

        // The script (UTC instants; Asia/Kathmandu is UTC+5:45).
        at('2026-03-10T18:00:00Z');
        await view(c1, p1); // counted: Kathmandu 03-10 23:45
        at('2026-03-10T18:10:00Z');
        await buy(c1, [[p1, 2], [p2, 1]]); // O1: S1 2 x 1000 + 1 x 250, Kathmandu 03-10 23:55; UTC 03-10
        at('2026-03-10T18:15:00Z');
        await saga.products.update(p1._id, { price: eur(1200) }, null, s1); // later orders reserve P1 at 12.00
        at('2026-03-10T18:16:00Z');
        await view(c2, p1); // counted: Kathmandu 03-11 00:01
        at('2026-03-10T18:20:00Z');
        await buy(c2, [[p1, 1], [p3, 3]]); // O2: S1 1 x 1200, S2 3 x 500; Kathmandu 03-11 00:05; UTC 03-10
        at('2026-03-10T18:30:00Z');
        await view(c1, p1); // within the hour of c1's last counted view: not counted
        at('2026-03-10T19:05:00Z');
        await view(c1, p1); // counted: Kathmandu 03-11 00:50
        at('2026-03-11T09:00:00Z');
        const o3 = await buy(c1, [[p2, 4]]); // O3: S1 4 x 250, Kathmandu 03-11 14:45, cancelled below (refunded): withdrawn
        at('2026-03-11T10:00:00Z');
        await view(c3, p3); // counted: UTC 03-11
        const o4 = await buy(c3, [[p3, 1]], false); // O4: confirmed, never paid, cancelled: no sale
        expect((await saga.orders.cancel(o4, c3)).status).toBe('CANCELLED');
        at('2026-03-12T05:00:00Z');
        await buy(c2, [[p2, 2], [p3, 1]]); // O5: S1 2 x 250, S2 1 x 500; Kathmandu 03-12 10:45
        at('2026-03-12T10:00:00Z');
        expect((await saga.orders.cancel(o3, c1)).status).toBe('CANCELLED'); // paid: refunded
        for (const p of [p2]) await eventually(async () => expect((await events.readStream(productStream(p._id))).some((e) => e.type === 'StockReleased' && (e.data as { orderId: string }).orderId === o3)).toBe(true), 60_000);

        const FROM = '2026-03-10';
        const TO = '2026-03-12';
        // S1 in UTC: O1 and O2 on 03-10 (4 units, 2000 + 250 + 1200), O5 on 03-12; O3 withdrawn.
        await eventually(async () => {
          const s = await analytics.salesSummary(s1.userId, FROM, TO, s1);
          expect(s).toMatchObject({ timeZone: 'UTC', unitsSold: 6, orders: 3, revenue: eur(3950), otherRevenue: [] });
          expect(s.days).toEqual([
            { date: '2026-03-10', unitsSold: 4, orders: 2, revenue: eur(3450) },
            { date: '2026-03-11', unitsSold: 0, orders: 0, revenue: eur(0) },
            { date: '2026-03-12', unitsSold: 2, orders: 1, revenue: eur(500) },
          ]);
        }, 60_000);

        // S1 moves to Kathmandu: the same slots now fall on Kathmandu days, without a rebuild.
        await handleCommand(events, userDecider, userStream(s1.userId), { type: 'UpdateProfile', userId: s1.userId, timeZone: 'Asia/Kathmandu', by: s1, at: now.toISOString() }, { actor: s1.userId, correlationId: randomUUID(), now });
        await eventually(async () => {
          const s = await analytics.salesSummary(s1.userId, FROM, TO, s1);
          expect(s).toMatchObject({ timeZone: 'Asia/Kathmandu', unitsSold: 6, orders: 3, revenue: eur(3950) });
          expect(s.days).toEqual([
            { date: '2026-03-10', unitsSold: 3, orders: 1, revenue: eur(2250) }, // O1 (one order, two of S1's products)
            { date: '2026-03-11', unitsSold: 1, orders: 1, revenue: eur(1200) }, // O2's P1 line, at the price reserved
            { date: '2026-03-12', unitsSold: 2, orders: 1, revenue: eur(500) }, // O5
          ]);
        }, 60_000);
        expect(await analytics.salesSummary(s1.userId, '2026-03-11', '2026-03-11', s1)).toMatchObject({ unitsSold: 1, orders: 1, revenue: eur(1200) });
        // P1 (S1, Kathmandu): views 1 on 03-10, 2 on 03-11; sold in O1 (2 x 1000) and O2 (1 x 1200).
        const p1Figures = await eventually(async () => {
          const a = await analytics.productAnalytics(p1, FROM, TO, s1);
          expect(a).toMatchObject({ views: 3, unitsSold: 3, orders: 2, revenue: eur(3200) });
          return a;
        }, 60_000);
        expect(p1Figures.conversionRate).toBeCloseTo(2 / 3, 10);
        expect(p1Figures.days.map((d) => [d.date, d.views, d.unitsSold, d.orders, d.revenue.amount])).toEqual([
          ['2026-03-10', 1, 2, 1, 2000],
          ['2026-03-11', 2, 1, 1, 1200],
          ['2026-03-12', 0, 0, 0, 0],
        ]);
        // P2: no views (no rate); O1 1 x 250, O5 2 x 250; O3 withdrawn.
        expect(await analytics.productAnalytics(p2, FROM, TO, s1)).toMatchObject({ views: 0, conversionRate: null, unitsSold: 3, orders: 2, revenue: eur(750) });
        // S2 and P3 in UTC: O2 3 x 500 on 03-10, O5 1 x 500 on 03-12; O4 never paid.
        const s2Summary = await analytics.salesSummary(s2.userId, FROM, TO, s2);
        expect(s2Summary).toMatchObject({ timeZone: 'UTC', unitsSold: 4, orders: 2, revenue: eur(2000) });
        expect(s2Summary.days.map((d) => d.orders)).toEqual([1, 0, 1]);
        await eventually(async () => expect(await analytics.productAnalytics(p3, FROM, TO, s2)).toMatchObject({ views: 1, conversionRate: 2, unitsSold: 4, orders: 2, revenue: eur(2000) }), 60_000);

        // Authorisation: the seller or an admin; anyone else is refused, anonymous callers first asked to sign in.
        expect(await analytics.productAnalytics(p1, FROM, TO, admin)).toMatchObject({ unitsSold: 3 });
        expect(await analytics.salesSummary(s1.userId, FROM, TO, admin)).toMatchObject({ unitsSold: 6 });
        await expect(analytics.productAnalytics(p1, FROM, TO, s2)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(analytics.productAnalytics(p1, FROM, TO, c1)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(analytics.productAnalytics(p1, FROM, TO, undefined)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
        await expect(analytics.salesSummary(s1.userId, FROM, TO, s2)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(analytics.salesSummary(c1.userId, FROM, TO, c1)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(analytics.salesSummary(s1.userId, FROM, TO, undefined)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
        await expect(analytics.salesSummary(s1.userId, TO, FROM, s1)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['from'] });
        await expect(analytics.productAnalytics(p1, '2026-03-10', '2027-03-11', s1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });

        // Every view and time-zone message delivered again: nothing is appended, nothing changes.
        await saga.relay.waitFor(await events.headPosition(), 60_000);
        await expectCollectedHandled(suite, groupOf);
        expect(collected.filter((m) => m.topic === RECOMMENDATION_TOPIC)).toHaveLength(4); // the counted views
        const head = await events.headPosition();
        await projector.waitFor(head, 60_000);
        const live = await readModelDigest(documents, [productAnalyticsProjection]);
        await redeliverCollected(suite, groupOf, [RECOMMENDATION_TOPIC, USER_TOPIC]);
        expect(await events.headPosition()).toBe(head);
        expect((await readModelDigest(documents, [productAnalyticsProjection])).hash).toBe(live.hash);

        // Applying every event again (at-least-once delivery) changes no document.
        await expectReapplyChangesNothing(events, documents, [productAnalyticsProjection], head);

        // A rebuild from the first event (what `npm run replay` starts) ends in the same read model.
        await expectRebuildMatches([projector], documents, [productAnalyticsProjection], live);
        expect(await analytics.salesSummary(s1.userId, FROM, TO, s1)).toMatchObject({ timeZone: 'Asia/Kathmandu', unitsSold: 6, orders: 3, revenue: eur(3950) });
      });
    }, 180_000);
  });
}


onEmbeddedAndRealServers('seller analytics', 'analytics-test', analyticsSuite);
