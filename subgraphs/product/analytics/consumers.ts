import { z } from 'zod';
import { startConsumers, type Bus, type Consumer, type DeliveredMessage } from '../../../platform/bus/bus.js';
import { RECOMMENDATION_TOPIC } from '../../recommendation/public-events.js';
import { USER_TOPIC } from '../../user/public-events.js';
import type { AnalyticsService, Causation } from './service.js';

/**
 * The product slice's consumers for seller analytics: views (recommendation.events.v1) and time
 * zones (user.events.v1), recorded as the product slice's own events. Neither calls another
 * service; both are idempotent by decider state (a redelivered message appends nothing).
 */
export const VIEWS_GROUP = 'product.analytics-views';
export const TIME_ZONES_GROUP = 'product.analytics-time-zones';

const timestamp = z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not a timestamp');
const viewed = z.object({ userId: z.string(), productId: z.string(), viewedAt: timestamp });
const zoned = z.object({ userId: z.string(), timeZone: z.string().optional() });

function parse<T>(schema: z.ZodType<T>, message: DeliveredMessage): T {
  const parsed = schema.safeParse(message.value);
  if (!parsed.success) throw Object.assign(new Error(`malformed ${message.type}: ${parsed.error.message}`), { retryable: false });
  return parsed.data;
}

function causationOf(message: DeliveredMessage): Causation {
  return { messageId: message.id, ...(message.headers?.['x-correlation-id'] && { correlationId: message.headers['x-correlation-id'] }) };
}

export function startAnalyticsConsumers(bus: Bus, service: AnalyticsService): Promise<Consumer[]> {
  const views = () =>
    bus.consume({
      groupId: VIEWS_GROUP,
      topics: [RECOMMENDATION_TOPIC],
      handler: async (message) => {
        if (message.type !== 'ProductViewed.v1') return;
        await service.noteView(parse(viewed, message), causationOf(message));
      },
    });
  const zones = () =>
    bus.consume({
      groupId: TIME_ZONES_GROUP,
      topics: [USER_TOPIC],
      handler: async (message) => {
        if (message.type !== 'UserRegistered.v1' && message.type !== 'ProfileUpdated.v1') return;
        const v = parse(zoned, message);
        if (v.timeZone === undefined) return; // a profile change that left the zone alone
        const position = Number(message.headers?.['x-position']);
        await service.noteTimeZone(v.userId, v.timeZone, message.headers?.['x-position'] && Number.isFinite(position) ? position : null, causationOf(message));
      },
    });
  return startConsumers([views, zones]);
}
