import type { EventSchemas } from '../platform/eventsourcing/upcasting.js';
import { PRODUCT_EVENT_SCHEMAS } from './product/events.js';

/**
 * The schema versions and upcasters of every slice's events (platform/eventsourcing/upcasting.ts),
 * for every process that opens the event store: each reads events of other slices too (the
 * projector, the relay, the consumers). A slice whose events changed shape adds its own here.
 */
export const EVENT_SCHEMAS: EventSchemas = {
  ...PRODUCT_EVENT_SCHEMAS,
};
