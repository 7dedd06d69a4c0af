import type { Logger } from '../../platform/logging.js';
import type { OrderService } from './service.js';

/**
 * Runs `expireStale` on an interval, so that stock held by orders nobody finishes (an
 * unanswered reservation, an abandoned checkout) goes back on sale. Several order processes
 * may sweep at once: expiry is decided per order on its stream, so an order ends once.
 */
export function startOrderExpiry(service: OrderService, logger: Logger, intervalMs: number): { stop: () => Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return; // the previous sweep is still going
    running = service
      .expireStale()
      .then(
        () => undefined,
        (error: unknown) => logger.error({ err: error }, 'expiring stale orders failed; retrying at the next sweep'),
      )
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** Sweep often enough for the shorter timeout to be honoured within about a quarter of it. */
export function expiryInterval(timeouts: { pendingSeconds: number; paymentSeconds: number }): number {
  return Math.max(200, Math.min(30_000, (Math.min(timeouts.pendingSeconds, timeouts.paymentSeconds) * 1000) / 4));
}
