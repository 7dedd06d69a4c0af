import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the services export, registered on an injected registry (no global registry:
 * several services can share one process in the embedded launcher, each with its own /metrics).
 * Names follow Prometheus conventions; dashboards in grafana/ query exactly these.
 */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  const latency = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  // The lag of the read models a service reads, measured by the service when scraped (once for both gauges).
  const readModelLag = new ReadModelLagSources();
  const metrics = {
    /** Registers how a service measures the lag of the read models it reads (projections/registry.ts). */
    watchReadModelLag: (measure: () => Promise<Record<string, { events: number; seconds: number }>>) => readModelLag.add(measure),
    readModelLagEvents: new Gauge({
      name: 'storefront_read_model_lag_events',
      help: 'Events between the event store head and each read model this service reads, as the service sees it (from the checkpoint): it grows when the projector is down or hung too, when its own lag gauges go silent',
      labelNames: ['read_model'],
      registers,
      async collect() {
        for (const [readModel, lag] of Object.entries(await readModelLag.measure())) this.set({ read_model: readModel }, lag.events);
      },
    }),
    readModelLagSeconds: new Gauge({
      name: 'storefront_read_model_lag_seconds',
      help: 'Age of the oldest event a read model this service reads has not applied yet, as the service sees it (0 when caught up)',
      labelNames: ['read_model'],
      registers,
      async collect() {
        for (const [readModel, lag] of Object.entries(await readModelLag.measure())) this.set({ read_model: readModel }, lag.seconds);
      },
    }),
    registry,
    graphqlRequestDuration: new Histogram({
      name: 'storefront_graphql_request_duration_seconds',
      help: 'GraphQL request latency by operation name and type',
      labelNames: ['operation', 'type'],
      buckets: latency,
      registers,
    }),
    graphqlResolverDuration: new Histogram({
      name: 'storefront_graphql_resolver_duration_seconds',
      help: 'Latency of root-field resolvers by parent type and field',
      labelNames: ['type', 'field'],
      buckets: latency,
      registers,
    }),
    graphqlErrors: new Counter({
      name: 'storefront_graphql_errors_total',
      help: 'GraphQL errors and userErrors returned, by code',
      labelNames: ['code'],
      registers,
    }),
    eventStoreAppendDuration: new Histogram({
      name: 'storefront_eventstore_append_duration_seconds',
      help: 'Event store append latency',
      buckets: latency,
      registers,
    }),
    eventStoreAppendConflicts: new Counter({
      name: 'storefront_eventstore_append_conflicts_total',
      help: 'Appends rejected because the stream was not at the expected revision',
      registers,
    }),
    eventStoreEventsAppended: new Counter({
      name: 'storefront_eventstore_events_appended_total',
      help: 'Events appended',
      registers,
    }),
    projectionEvents: new Counter({
      name: 'storefront_projection_events_total',
      help: 'Events a projection has processed (applied or skipped as already applied)',
      labelNames: ['projection', 'result'],
      registers,
    }),
    projectionLagEvents: new Gauge({
      name: 'storefront_projection_lag_events',
      help: 'Events between the event store head and the projection position',
      labelNames: ['projection'],
      registers,
    }),
    projectionLagSeconds: new Gauge({
      name: 'storefront_projection_lag_seconds',
      help: 'Age of the oldest event the projection has not applied yet (0 when caught up)',
      labelNames: ['projection'],
      registers,
    }),
    projectionPosition: new Gauge({
      name: 'storefront_projection_position',
      help: 'Global position of the last event the projection processed',
      labelNames: ['projection'],
      registers,
    }),
    projectionParked: new Gauge({
      name: 'storefront_projection_parked_events',
      help: 'Events a projection parked after they kept failing (listed at /projections, retried on demand)',
      labelNames: ['projection'],
      registers,
    }),
    projectionRestarts: new Counter({
      name: 'storefront_projection_restarts_total',
      help: 'Projection subscriptions restarted, by reason (stalled: no progress while events waited)',
      labelNames: ['projection', 'reason'],
      registers,
    }),
    projectionHalted: new Gauge({
      name: 'storefront_projection_halted',
      help: '1 while a projection whose policy is to stop stands at an event that keeps failing',
      labelNames: ['projection'],
      registers,
    }),
    projectionLeaseHeld: new Gauge({
      name: 'storefront_projection_lease_held',
      help: '1 while this process holds the projection\'s lease and writes its read model; 0 while it stands by',
      labelNames: ['projection'],
      registers,
    }),
    projectionLeaseTakeovers: new Counter({
      name: 'storefront_projection_lease_takeovers_total',
      help: 'Leases this process took over from another holder (expired or released), not counting a first acquisition',
      labelNames: ['projection'],
      registers,
    }),
    subgraphFetchesCoalesced: new Counter({
      name: 'storefront_gateway_coalesced_fetches_total',
      help: 'Subgraph reads the gateway did not send because an identical one (same operation, variables and caller) was in flight: they shared its answer',
      registers,
    }),
    gatewayRoutes: new Counter({
      name: 'storefront_gateway_requests_total',
      help: 'GraphQL requests over HTTP by the path that answered them: cache (the response cache), fast (sent whole to the one subgraph that owns every field), planned (query-planned by @apollo/gateway)',
      labelNames: ['path'],
      registers,
    }),
    subgraphFetchDuration: new Histogram({
      name: 'storefront_gateway_subgraph_fetch_duration_seconds',
      help: 'Requests the gateway sent to a subgraph (shared reads counted once), by subgraph and outcome (ok: an HTTP answer, error: none)',
      labelNames: ['subgraph', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    responseCacheInvalidations: new Counter({
      name: 'storefront_gateway_response_cache_invalidated_tags_total',
      help: 'Tags the gateway response cache heard invalidated by the projector (each voids the answers holding it)',
      registers,
    }),
    responseCacheFlushes: new Counter({
      name: 'storefront_gateway_response_cache_flushes_total',
      help: 'Times the gateway response cache was emptied, by reason (its invalidation feed interrupted or live again, too many tags tracked)',
      labelNames: ['reason'],
      registers,
    }),
    responseCacheStoresRefused: new Counter({
      name: 'storefront_gateway_response_cache_stores_refused_total',
      help: 'Answers the gateway response cache did not keep because something they hold was invalidated while they were fetched (or the feed was not live)',
      registers,
    }),
    responseCacheEntries: new Gauge({
      name: 'storefront_gateway_response_cache_entries',
      help: 'Answers held by the gateway response cache',
      registers,
    }),
    responseCacheBytes: new Gauge({
      name: 'storefront_gateway_response_cache_bytes',
      help: 'Approximate size of the answers held by the gateway response cache',
      registers,
    }),
    responseCacheLive: new Gauge({
      name: 'storefront_gateway_response_cache_live',
      help: '1 while the gateway response cache serves (its invalidation feed answers its probes), 0 while it is paused',
      registers,
    }),
    projectionErrors: new Counter({
      name: 'storefront_projection_errors_total',
      help: 'Failures applying an event (retried)',
      labelNames: ['projection'],
      registers,
    }),
    replayProgress: new Gauge({
      name: 'storefront_replay_progress_ratio',
      help: 'Progress of a read-model rebuild, 0..1 (1 when switched over)',
      labelNames: ['projection'],
      registers,
    }),
    projectionVersionRebuild: new Gauge({
      name: 'storefront_projection_version_rebuild',
      help: '1 while a projection rebuilds its read model aside because its declared version is newer than the live one',
      labelNames: ['projection'],
      registers,
    }),
    cacheRequests: new Counter({
      name: 'storefront_cache_requests_total',
      help: 'Cache look-ups by result (hit or miss; the gateway response cache also stale and paused)',
      labelNames: ['cache', 'result'],
      registers,
    }),
    busPublished: new Counter({
      name: 'storefront_bus_messages_published_total',
      help: 'Integration messages published',
      labelNames: ['topic'],
      registers,
    }),
    busConsumed: new Counter({
      name: 'storefront_bus_messages_consumed_total',
      help: 'Integration messages handled, by outcome (ok, retry, dead_letter)',
      labelNames: ['topic', 'group', 'outcome'],
      registers,
    }),
    subscriptionsActive: new Gauge({
      name: 'storefront_subscriptions_active',
      help: 'GraphQL subscriptions currently open',
      labelNames: ['field'],
      registers,
    }),
    subscriptionDeliveryDuration: new Histogram({
      name: 'storefront_subscription_delivery_seconds',
      help: 'From the event being recorded to the subscription event being sent',
      labelNames: ['field'],
      buckets: latency,
      registers,
    }),
    subscriptionEvents: new Counter({
      name: 'storefront_subscription_events_total',
      help: 'Subscription events sent to clients',
      labelNames: ['field'],
      registers,
    }),
    subscriptionCatchUpEvents: new Counter({
      name: 'storefront_subscription_catch_up_events_total',
      help: 'Subscription events read from the event log for clients resuming from a cursor',
      labelNames: ['field'],
      registers,
    }),
    subscriptionOverflows: new Counter({
      name: 'storefront_subscription_overflows_total',
      help: 'Subscriptions ended with SUBSCRIBER_TOO_SLOW because their bounded buffer overflowed (where: gateway or service)',
      labelNames: ['field', 'where'],
      registers,
    }),
    subscriptionRefusals: new Counter({
      name: 'storefront_subscription_refusals_total',
      help: 'Subscriptions or connections refused by a limit, by limit (per_connection, per_identity, total, init_timeout, resume)',
      labelNames: ['limit'],
      registers,
    }),
    subscriptionUpstreams: new Gauge({
      name: 'storefront_subscription_upstreams',
      help: 'Upstream subscriptions the gateway holds to subgraphs (shared ones count once), by kind (shared, private)',
      labelNames: ['kind'],
      registers,
    }),
    slowSocketsClosed: new Counter({
      name: 'storefront_websocket_slow_closed_total',
      help: 'WebSocket connections closed because the client did not read what it was sent',
      registers,
    }),
    orderTransitions: new Counter({
      name: 'storefront_order_transitions_total',
      help: 'Orders entering a status (PENDING when placed, then CONFIRMED, REJECTED, PAID, …)',
      labelNames: ['status'],
      registers,
    }),
    orderConfirmDuration: new Histogram({
      name: 'storefront_order_confirmation_seconds',
      help: 'From an order being placed to its confirmation or rejection (the reservation saga)',
      labelNames: ['outcome'],
      buckets: latency,
      registers,
    }),
    recommendationQueryDuration: new Histogram({
      name: 'storefront_recommendation_query_duration_seconds',
      help: 'Recommendation queries (bought together, for a user, trending, and the catalog that fills lists up on a new store) in the recommendation subgraph, by query and whether the cache answered',
      labelNames: ['query', 'cache'],
      buckets: latency,
      registers,
    }),
    recommendationInteractions: new Counter({
      name: 'storefront_recommendation_interactions_total',
      help: 'Interactions the recommendation service handled, by kind (view, view_flood: not counted, purchase, purchase_withdrawn, product_facts) and whether an event was recorded',
      labelNames: ['kind', 'recorded'],
      registers,
    }),
    analyticsQueryDuration: new Histogram({
      name: 'storefront_analytics_query_duration_seconds',
      help: 'Seller analytics queries in the product subgraph (sales_summary, product), from the slot documents to the summed days',
      labelNames: ['query'],
      buckets: latency,
      registers,
    }),
    webhookAttempts: new Counter({
      name: 'storefront_webhook_attempts_total',
      help: 'Attempts to POST a notification to a seller webhook, by outcome (DELIVERED; RETRY_SCHEDULED: failed, tried again after a backoff; FAILED: refused for good; PARKED: the webhook failed too often in a row and is held)',
      labelNames: ['outcome'],
      registers,
    }),
    notificationsRaised: new Counter({
      name: 'storefront_notifications_raised_total',
      help: 'Notifications the notification service derived from integration events, by kind, priority and outcome (raised; duplicate: a redelivered message, refused; muted: the recipient chose no channel; stale: about something older than a day)',
      labelNames: ['kind', 'priority', 'outcome'],
      registers,
    }),
    notificationsSent: new Counter({
      name: 'storefront_notifications_sent_total',
      help: 'Notifications delivered, by channel (IN_APP: put in the inbox; EMAIL: accepted by the SMTP server; WEBHOOK: taken by the webhook transport) and kind',
      labelNames: ['channel', 'kind'],
      registers,
    }),
    notificationsFailed: new Counter({
      name: 'storefront_notifications_failed_total',
      help: 'Failed notification deliveries, by channel, kind and outcome (retry: tried again after a backoff; parked: given up)',
      labelNames: ['channel', 'kind', 'outcome'],
      registers,
    }),
    notificationsRetried: new Counter({
      name: 'storefront_notifications_retried_total',
      help: 'Notification delivery attempts after a failed one, by channel and kind',
      labelNames: ['channel', 'kind'],
      registers,
    }),
    notificationQueueAge: new Gauge({
      name: 'storefront_notification_queue_age_seconds',
      help: 'Age of the oldest pending notification delivery, by priority and channel (0: none pending), as the dispatching process sees it',
      labelNames: ['priority', 'channel'],
      registers,
    }),
    readAfterWait: new Histogram({
      name: 'storefront_read_after_wait_seconds',
      help: 'How long queries sent with x-read-after-position waited for the read models to reach it (read-your-writes), by outcome (reached, behind: READ_MODEL_BEHIND)',
      labelNames: ['outcome'],
      buckets: [0.0001, 0.00025, 0.0005, ...latency],
      registers,
    }),
    paymentAttempts: new Counter({
      name: 'storefront_payment_attempts_total',
      help: 'Calls to the payment provider by outcome (paid, declined, transient, refunded, reconciled)',
      labelNames: ['outcome'],
      registers,
    }),
  };
  // Series an alert watches are exported at 0 from the start: a counter that first appears at 1
  // shows no `increase()`, so the alert on the first internal error would never fire.
  metrics.graphqlErrors.inc({ code: 'INTERNAL_SERVER_ERROR' }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A registry for one service, with its name on every series and the process metrics. */
export function serviceRegistry(service: string, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Where a service's read-model lag comes from; measured at most once a second (one scrape asks twice). */
class ReadModelLagSources {
  private readonly sources: (() => Promise<Record<string, { events: number; seconds: number }>>)[] = [];
  private last: { at: number; value: Promise<Record<string, { events: number; seconds: number }>> } | undefined;

  add(source: () => Promise<Record<string, { events: number; seconds: number }>>): void {
    this.sources.push(source);
  }

  measure(): Promise<Record<string, { events: number; seconds: number }>> {
    if (this.sources.length === 0) return Promise.resolve({});
    if (!this.last || Date.now() - this.last.at > 1000) {
      const value = Promise.all(this.sources.map((s) => s())).then((all) => Object.assign({}, ...all) as Record<string, { events: number; seconds: number }>);
      this.last = { at: Date.now(), value };
      // A store that cannot be reached: no value this scrape (the target's readiness says why), not a failed scrape.
      value.catch(() => (this.last = undefined));
    }
    return this.last.value.catch(() => ({}));
  }
}

