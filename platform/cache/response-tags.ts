/**
 * The vocabulary shared by the projections that invalidate the gateway's response cache and the
 * gateway that tags what it caches (gateway/response-cache.ts). A cached response carries:
 *   - `entityTag(type, id)` for every object of a cached type it contains (`Product:9f1c…`);
 *   - `anyTag(type)` when it contains such an object without its id (made stale by any change);
 *   - `listTag(type)` for every list of that type (stale when a change may alter which objects a
 *     list holds or their order: a creation, a change of a field lists filter or sort on);
 *   - `readModelTag(name)` for the read model it was read from (stale when a rebuild switches over);
 *   - for a field another read model answers on a cached type (`Product.recommendations`),
 *     `fieldTag(field, parentId)` per object it was selected on (`fieldTag(field, '*')` when the
 *     answer does not show the object's id) and `fieldTag(field)`, which every such answer carries.
 * A projection publishes, after writing its read model and invalidating the subgraphs' cache,
 * `entityTag` and `anyTag` of every object it changed, and `listTag` when the change may alter lists;
 * a projection behind a field publishes `fieldTag(field, id)` and `fieldTag(field, '*')` for the
 * objects whose answers it changed, or `fieldTag(field)` when it may have changed all of them.
 */
export const entityTag = (type: string, id: string) => `${type}:${id}`;
export const anyTag = (type: string) => `${type}:*`;
export const listTag = (type: string) => `${type}:list`;
export const readModelTag = (readModel: string) => `read-model:${readModel}`;
export const fieldTag = (field: string, parentId?: string) => (parentId === undefined ? `field:${field}` : `field:${field}@${parentId}`);

/** The pub/sub channel the projector publishes response-cache invalidations on. */
export const RESPONSE_INVALIDATIONS_CHANNEL = 'gateway.response-invalidations';

/**
 * One message on that channel: tags made stale, and the position each read model reached with
 * the change (so the gateway can say how fresh an answer it keeps is); or a projector's heartbeat
 * (`alive`), sent every second while it runs with no invalidation left undelivered: the gateway
 * serves answers read from a read model only while it hears that read model's heartbeats.
 * `instance` changes whenever the projector (re)starts: invalidations it held may have been lost.
 */
export interface ResponseInvalidation {
  tags?: string[];
  positions?: Record<string, number>;
  alive?: { readModel: string; instance: string };
}
